package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/potentialhq/potential/domain/webhook"
)

// WebhookWorkerOptions configure a WebhookWorker; zero values take the
// defaults.
type WebhookWorkerOptions struct {
	// Encode turns an event into a delivery's body (the server's protojson
	// of potential.webhook.v1.WebhookEvent). Required.
	Encode func(WebhookEvent) ([]byte, error)
	// Poll is how often the worker looks for events and due deliveries;
	// default 1 s.
	Poll time.Duration
	// Timeout bounds one attempt, connecting included; default 10 s.
	Timeout time.Duration
	// LeaseTTL is how long a claimed attempt is the worker's before
	// another worker may take the delivery over (its next attempt); it
	// must exceed Timeout; default Timeout + 30 s.
	LeaseTTL time.Duration
	// MaxAttempts is the number of attempts before a delivery has failed;
	// default 10.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the pause after a failed attempt
	// (WebhookBackoff); defaults 10 s and 1 h: ten attempts span about
	// two and a half hours.
	BackoffBase, BackoffMax time.Duration
	// Batch is the most deliveries claimed, and events fed, at once per
	// tenant; default 100.
	Batch int
	// Concurrency is the most attempts in flight; default 8.
	Concurrency int
	// Logger receives failures of the worker itself; default slog.Default.
	Logger *slog.Logger
}

// WebhookWorker feeds the outbox from the segment event log and the grade
// changes, and delivers it (see the top of webhook.go). Any number of
// workers, in any number of processes, may share one store.
type WebhookWorker struct {
	svc    *Service
	client *webhook.Client
	opts   WebhookWorkerOptions
	pruned map[string]time.Time // tenant id -> when this worker last pruned its log
}

// NewWebhookWorker returns a worker over svc's store.
func NewWebhookWorker(svc *Service, opts WebhookWorkerOptions) (*WebhookWorker, error) {
	if opts.Encode == nil {
		return nil, fmt.Errorf("%w: a webhook worker needs an Encode function", ErrInvalid)
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.LeaseTTL <= opts.Timeout {
		opts.LeaseTTL = opts.Timeout + 30*time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 10 * time.Second
	}
	if opts.BackoffMax < opts.BackoffBase {
		opts.BackoffMax = max(time.Hour, opts.BackoffBase)
	}
	if opts.Batch <= 0 {
		opts.Batch = 100
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &WebhookWorker{svc: svc, client: webhook.NewClient(opts.Timeout), opts: opts, pruned: map[string]time.Time{}}, nil
}

// Run works every Poll until ctx is done; it returns ctx's error. An attempt
// cut off by ctx is not completed: its lease lapses and another worker makes
// the next attempt.
func (w *WebhookWorker) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.Poll)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.opts.Logger.Warn("webhooks", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunOnce makes one pass over every tenant: it feeds the outbox from the
// events since the last pass, makes the attempts that are due, and (hourly)
// prunes the delivery log, and returns how many attempts it made. A worker
// runs one pass at a time. An error of one tenant does not stop
// the others; the first is returned.
func (w *WebhookWorker) RunOnce(ctx context.Context) (int, error) {
	tenants, err := w.svc.store.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	var first error
	n := 0
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if err := w.feed(ctx, t.ID); err != nil && first == nil {
			first = fmt.Errorf("feeding tenant %s: %w", t.ID, err)
		}
		k, err := w.deliver(ctx, t.ID)
		n += k
		if err != nil && first == nil {
			first = fmt.Errorf("delivering for tenant %s: %w", t.ID, err)
		}
		if err := w.prune(ctx, t.ID); err != nil && first == nil {
			first = fmt.Errorf("pruning the delivery log of tenant %s: %w", t.ID, err)
		}
	}
	return n, first
}

// prune deletes, at most hourly per tenant, the deliveries that ended more
// than WebhookRetention ago.
func (w *WebhookWorker) prune(ctx context.Context, tenantID string) error {
	now := w.svc.Now()
	if last, ok := w.pruned[tenantID]; ok && now.Sub(last) < time.Hour {
		return nil
	}
	for {
		n, err := w.svc.store.PruneWebhookDeliveries(ctx, tenantID, now.Add(-WebhookRetention), 1000)
		if err != nil {
			return err
		}
		if n < 1000 {
			w.pruned[tenantID] = now
			return nil
		}
	}
}

// feed moves the tenant's events into the outbox until the feed is caught
// up (or taken by another worker).
func (w *WebhookWorker) feed(ctx context.Context, tenantID string) error {
	for {
		n, err := w.svc.store.FeedWebhooks(ctx, tenantID, w.opts.Batch, func(f *WebhookFeed) ([]WebhookDelivery, error) {
			return w.deliveries(tenantID, f)
		})
		if err != nil || n < w.opts.Batch {
			return err
		}
	}
}

// deliveries are the deliveries of a feed step's events.
func (w *WebhookWorker) deliveries(tenantID string, f *WebhookFeed) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	now := w.svc.Now()
	add := func(sub *WebhookSubscription, ev WebhookEvent) error {
		ev.SubscriptionID = sub.ID
		body, err := w.opts.Encode(ev)
		if err != nil {
			return fmt.Errorf("encoding webhook event %s: %w", ev.ID, err)
		}
		out = append(out, WebhookDelivery{
			ID: WebhookDeliveryID(sub.ID, ev.ID), TenantID: tenantID, SubscriptionID: sub.ID,
			EventID: ev.ID, EventType: ev.Type, EventTime: ev.Time, Payload: body,
			State: WebhookPending, NextAttemptTime: now, CreateTime: now,
		})
		return nil
	}
	for i := range f.SegmentEvents {
		e := f.SegmentEvents[i]
		typ := WebhookSegmentEntered
		if e.Kind == SegmentExited {
			typ = WebhookSegmentExited
		}
		for j := range f.Subscriptions {
			sub := &f.Subscriptions[j]
			if sub.wants(typ, e.SegmentID, e.Time) {
				if err := add(sub, WebhookEvent{ID: SegmentWebhookEventID(e.Cursor), Type: typ, Time: e.Time, Segment: &e}); err != nil {
					return nil, err
				}
			}
		}
	}
	for i := range f.GradeChanges {
		c := f.GradeChanges[i]
		for j := range f.Subscriptions {
			sub := &f.Subscriptions[j]
			if sub.wants(WebhookGradeChanged, "", c.Time) {
				if err := add(sub, WebhookEvent{ID: GradeWebhookEventID(c.ID), Type: WebhookGradeChanged, Time: c.Time, Grade: &c}); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// deliver claims the tenant's due deliveries, batch by batch, and makes
// their attempts, Concurrency at a time.
func (w *WebhookWorker) deliver(ctx context.Context, tenantID string) (int, error) {
	n := 0
	for {
		now := w.svc.Now()
		leases, err := w.svc.store.ClaimWebhookDeliveries(ctx, tenantID, now, now.Add(w.opts.LeaseTTL), w.opts.Batch)
		if err != nil || len(leases) == 0 {
			return n, err
		}
		sem := make(chan struct{}, w.opts.Concurrency)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var first error
		for _, l := range leases {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := w.attempt(ctx, tenantID, l); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		n += len(leases)
		if first != nil {
			return n, first
		}
		if len(leases) < w.opts.Batch {
			return n, nil
		}
	}
}

// attempt sends one claimed attempt and records its outcome. An attempt
// whose lease was lost meanwhile is not recorded (the delivery is another
// worker's now); that is no error.
func (w *WebhookWorker) attempt(ctx context.Context, tenantID string, l WebhookLease) error {
	d := &l.Delivery
	start := w.svc.Now()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Potential-Webhooks/1")
	h.Set(webhook.HeaderIdempotencyKey, d.ID)
	h.Set(webhook.HeaderEventID, d.EventID)
	h.Set(webhook.HeaderEventType, string(d.EventType))
	h.Set(webhook.HeaderAttempt, strconv.Itoa(l.Attempt))
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(start.Unix(), 10))
	h.Set(webhook.HeaderSignature, webhook.Sign(l.Secret, start, d.Payload))
	resp := w.client.Post(ctx, webhook.Request{URL: l.URL, AllowPrivate: l.AllowPrivateNetwork, Header: h, Body: d.Payload})
	if ctx.Err() != nil {
		return ctx.Err() // stopping: the lease lapses, the next worker retries
	}
	o := WebhookOutcome{
		Log:   WebhookAttempt{Attempt: l.Attempt, Start: start, StatusCode: resp.StatusCode, Latency: resp.Latency.Round(time.Microsecond)},
		State: WebhookSucceeded,
	}
	if resp.Err != nil {
		o.Log.Error = truncateUTF8(resp.Err.Error(), 500)
		o.State = WebhookPending
		o.NextAttemptTime = w.svc.Now().Add(WebhookBackoff(l.Attempt, w.opts.BackoffBase, w.opts.BackoffMax))
		if l.Attempt >= w.opts.MaxAttempts {
			o.State, o.NextAttemptTime = WebhookFailed, time.Time{}
		}
	}
	err := w.svc.store.CompleteWebhookAttempt(ctx, tenantID, l, o)
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
