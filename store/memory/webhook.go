package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Webhooks (domain.WebhookStore), under the store's mutex with the rules of
// store/postgres: the feed is taken by one caller at a time (the mutex),
// a claim takes due deliveries of enabled subscriptions and counts their
// attempt, and only the claim's token completes it.

var _ domain.WebhookStore = (*Store)(nil)

// webhookData is a tenant's webhooks.
type webhookData struct {
	dests map[string]*domain.WebhookDestination  // by id
	subs  map[string]*domain.WebhookSubscription // by id
	// The feed: started is false until the first subscription. segCursor is
	// the last segment event fed; gradeFed holds the ids of the grade
	// changes fed (or present when the feed started): the memory store's
	// changes have no commit sequence to keep a cursor on.
	started   bool
	segCursor int64
	gradeFed  map[string]bool
	// The outbox: deliveries by id, each with its lease token ("" when
	// not claimed) and log.
	deliveries map[string]*memDelivery
}

type memDelivery struct {
	d     domain.WebhookDelivery
	token string
}

func (d *tenantData) hooks() *webhookData {
	if d.webhooks == nil {
		d.webhooks = &webhookData{dests: map[string]*domain.WebhookDestination{}, subs: map[string]*domain.WebhookSubscription{},
			gradeFed: map[string]bool{}, deliveries: map[string]*memDelivery{}}
	}
	return d.webhooks
}

func webhookSubNotFound(id string) error {
	return fmt.Errorf("%w: webhook subscription %q", domain.ErrNotFound, id)
}

func cloneSub(s *domain.WebhookSubscription) domain.WebhookSubscription {
	out := *s
	out.EventTypes, out.SegmentIDs = slices.Clone(s.EventTypes), slices.Clone(s.SegmentIDs)
	return out
}

func checkWebhookText(field string, ss ...string) error {
	for _, s := range ss {
		if err := checkText(s); err != nil {
			return fieldError(field, err)
		}
	}
	return nil
}

// CreateWebhookDestination stores d; ErrConflict if its URL is registered.
func (s *Store) CreateWebhookDestination(_ context.Context, d domain.WebhookDestination) (domain.WebhookDestination, error) {
	if err := checkWebhookText("destination", d.URL, d.Description); err != nil {
		return domain.WebhookDestination{}, err
	}
	id, ok := parseID(d.ID)
	if !ok {
		return domain.WebhookDestination{}, domain.Invalid("destination", "id must be a UUID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(d.TenantID)
	if td == nil {
		return domain.WebhookDestination{}, fmt.Errorf("%w: tenant", domain.ErrNotFound)
	}
	h := td.hooks()
	for _, x := range h.dests {
		if x.URL == d.URL {
			return domain.WebhookDestination{}, fmt.Errorf("%w: webhook destination url", domain.ErrConflict)
		}
	}
	if _, dup := h.dests[id]; dup {
		return domain.WebhookDestination{}, fmt.Errorf("%w: webhook destination id exists", domain.ErrConflict)
	}
	d.ID, d.TenantID, d.CreateTime = id, td.id(d.TenantID), normTime(d.CreateTime)
	h.dests[id] = &d
	return d, nil
}

// id returns the canonical form of a tenant id known to exist.
func (d *tenantData) id(tenantID string) string {
	id, _ := parseID(tenantID)
	return id
}

// ListWebhookDestinations returns the tenant's destinations by URL.
func (s *Store) ListWebhookDestinations(_ context.Context, tenantID string) ([]domain.WebhookDestination, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	td := s.tenant(tenantID)
	if td == nil || td.webhooks == nil {
		return nil, nil
	}
	var out []domain.WebhookDestination
	for _, d := range td.webhooks.dests {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b domain.WebhookDestination) int { return strings.Compare(a.URL, b.URL) })
	return out, nil
}

// DeleteWebhookDestination deletes a destination no subscription uses.
func (s *Store) DeleteWebhookDestination(_ context.Context, tenantID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	did, ok := parseID(id)
	if td == nil || td.webhooks == nil || !ok || td.webhooks.dests[did] == nil {
		return fmt.Errorf("%w: webhook destination %q", domain.ErrNotFound, id)
	}
	for _, sub := range td.webhooks.subs {
		if sub.DestinationID == did {
			return fmt.Errorf("%w: webhook subscription %s delivers to this destination", domain.ErrFailedPrecondition, sub.ID)
		}
	}
	delete(td.webhooks.dests, did)
	return nil
}

// prepareSub canonicalizes sub's ids and checks what the store needs. s.mu
// must be held.
func prepareSub(h *webhookData, sub *domain.WebhookSubscription) error {
	if err := checkWebhookText("subscription", sub.URL, sub.Description, sub.Secret); err != nil {
		return err
	}
	did, ok := parseID(sub.DestinationID)
	if !ok || h.dests[did] == nil {
		return fmt.Errorf("%w: the webhook destination is not registered", domain.ErrFailedPrecondition)
	}
	sub.DestinationID = did
	sub.EventTypes, sub.SegmentIDs = slices.Clone(sub.EventTypes), slices.Clone(sub.SegmentIDs)
	for i, sid := range sub.SegmentIDs {
		if sub.SegmentIDs[i], ok = parseID(sid); !ok {
			return domain.Invalid("subscription.segment_ids", "must be UUIDs")
		}
	}
	sub.CreateTime, sub.UpdateTime = normTime(sub.CreateTime), normTime(sub.UpdateTime)
	return nil
}

// CreateWebhookSubscription stores sub and starts the tenant's feed.
func (s *Store) CreateWebhookSubscription(_ context.Context, sub domain.WebhookSubscription) (domain.WebhookSubscription, error) {
	id, ok := parseID(sub.ID)
	if !ok {
		return domain.WebhookSubscription{}, domain.Invalid("subscription", "id must be a UUID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(sub.TenantID)
	if td == nil {
		return domain.WebhookSubscription{}, fmt.Errorf("%w: tenant", domain.ErrNotFound)
	}
	h := td.hooks()
	if err := prepareSub(h, &sub); err != nil {
		return domain.WebhookSubscription{}, err
	}
	if _, dup := h.subs[id]; dup {
		return domain.WebhookSubscription{}, fmt.Errorf("%w: webhook subscription id exists", domain.ErrConflict)
	}
	sub.ID, sub.TenantID, sub.Version = id, td.id(sub.TenantID), 1
	h.subs[id] = &sub
	if !h.started {
		h.started = true
		if td.segments != nil {
			h.segCursor = int64(len(td.segments.log))
		}
		if td.scoring != nil {
			for _, c := range td.scoring.changes {
				h.gradeFed[c.ID] = true
			}
		}
	}
	return cloneSub(&sub), nil
}

// GetWebhookSubscription returns a subscription with its secret.
func (s *Store) GetWebhookSubscription(_ context.Context, tenantID, id string) (domain.WebhookSubscription, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	td := s.tenant(tenantID)
	sid, ok := parseID(id)
	if td == nil || td.webhooks == nil || !ok || td.webhooks.subs[sid] == nil {
		return domain.WebhookSubscription{}, webhookSubNotFound(id)
	}
	return cloneSub(td.webhooks.subs[sid]), nil
}

// ListWebhookSubscriptions returns the tenant's subscriptions, oldest first.
func (s *Store) ListWebhookSubscriptions(_ context.Context, tenantID string) ([]domain.WebhookSubscription, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	td := s.tenant(tenantID)
	if td == nil || td.webhooks == nil {
		return nil, nil
	}
	return sortedSubs(td.webhooks), nil
}

func sortedSubs(h *webhookData) []domain.WebhookSubscription {
	var out []domain.WebhookSubscription
	for _, sub := range h.subs {
		out = append(out, cloneSub(sub))
	}
	slices.SortFunc(out, func(a, b domain.WebhookSubscription) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
	})
	return out
}

// UpdateWebhookSubscription replaces the subscription's fields at sub.Version.
func (s *Store) UpdateWebhookSubscription(_ context.Context, sub domain.WebhookSubscription) (domain.WebhookSubscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(sub.TenantID)
	sid, ok := parseID(sub.ID)
	if td == nil || td.webhooks == nil || !ok || td.webhooks.subs[sid] == nil {
		return domain.WebhookSubscription{}, webhookSubNotFound(sub.ID)
	}
	h := td.webhooks
	cur := h.subs[sid]
	if cur.Version != sub.Version {
		return domain.WebhookSubscription{}, fmt.Errorf("%w: webhook subscription is at version %d, not %d", domain.ErrStale, cur.Version, sub.Version)
	}
	if err := prepareSub(h, &sub); err != nil {
		return domain.WebhookSubscription{}, err
	}
	sub.ID, sub.TenantID, sub.Version, sub.CreateTime = sid, cur.TenantID, cur.Version+1, cur.CreateTime
	h.subs[sid] = &sub
	return cloneSub(&sub), nil
}

// DeleteWebhookSubscription deletes a subscription with its deliveries.
func (s *Store) DeleteWebhookSubscription(_ context.Context, tenantID, id string, version int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	sid, ok := parseID(id)
	if td == nil || td.webhooks == nil || !ok || td.webhooks.subs[sid] == nil {
		return webhookSubNotFound(id)
	}
	h := td.webhooks
	if version != 0 && h.subs[sid].Version != version {
		return fmt.Errorf("%w: webhook subscription is at version %d, not %d", domain.ErrStale, h.subs[sid].Version, version)
	}
	delete(h.subs, sid)
	for did, d := range h.deliveries {
		if d.d.SubscriptionID == sid {
			delete(h.deliveries, did)
		}
	}
	return nil
}

// FeedWebhooks feeds the outbox from the events after the feed's cursors.
func (s *Store) FeedWebhooks(_ context.Context, tenantID string, limit int, fn func(*domain.WebhookFeed) ([]domain.WebhookDelivery, error)) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	if td == nil || td.webhooks == nil || !td.webhooks.started {
		return 0, nil
	}
	h := td.webhooks
	f := &domain.WebhookFeed{}
	for _, sub := range sortedSubs(h) {
		if !sub.Disabled {
			f.Subscriptions = append(f.Subscriptions, sub)
		}
	}
	segCursor := h.segCursor
	if td.segments != nil {
		for i := h.segCursor; i < int64(len(td.segments.log)) && len(f.SegmentEvents) < limit; i++ {
			segCursor = i + 1
			if ev := td.segments.log[i]; ev.SegmentID != "" { // "": the event of an erased customer
				f.SegmentEvents = append(f.SegmentEvents, ev)
			}
		}
	}
	var fed []string
	if td.scoring != nil {
		for _, c := range td.scoring.changes {
			if len(fed) == limit {
				break
			}
			if !h.gradeFed[c.ID] {
				fed = append(fed, c.ID)
				f.GradeChanges = append(f.GradeChanges, c)
			}
		}
	}
	read := int(segCursor-h.segCursor) + len(fed)
	if read == 0 {
		return 0, nil
	}
	ds, err := fn(f)
	if err != nil {
		return 0, err
	}
	for _, d := range ds {
		if err := checkWebhookText("delivery", d.EventID, string(d.EventType), string(d.Payload)); err != nil {
			return 0, err
		}
	}
	for _, d := range ds {
		id, _ := parseID(d.ID)
		if h.deliveries[id] != nil || h.subs[d.SubscriptionID] == nil {
			continue
		}
		d.ID, d.TenantID, d.Attempts, d.Log = id, td.id(tenantID), 0, nil
		d.Payload = slices.Clone(d.Payload)
		d.EventTime, d.NextAttemptTime, d.CreateTime = normTime(d.EventTime), normTime(d.NextAttemptTime), normTime(d.CreateTime)
		h.deliveries[id] = &memDelivery{d: d}
	}
	h.segCursor = segCursor
	for _, id := range fed {
		h.gradeFed[id] = true
	}
	return read, nil
}

// ClaimWebhookDeliveries claims due deliveries of enabled subscriptions.
func (s *Store) ClaimWebhookDeliveries(_ context.Context, tenantID string, now, leaseUntil time.Time, limit int) ([]domain.WebhookLease, error) {
	now, leaseUntil = normTime(now), normTime(leaseUntil)
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	if td == nil || td.webhooks == nil {
		return nil, nil
	}
	h := td.webhooks
	var due []*memDelivery
	for _, d := range h.deliveries {
		sub := h.subs[d.d.SubscriptionID]
		if d.d.State == domain.WebhookPending && !d.d.NextAttemptTime.After(now) && sub != nil && !sub.Disabled {
			due = append(due, d)
		}
	}
	slices.SortFunc(due, func(a, b *memDelivery) int {
		return cmp.Or(a.d.NextAttemptTime.Compare(b.d.NextAttemptTime), strings.Compare(a.d.ID, b.d.ID))
	})
	var out []domain.WebhookLease
	token := domain.NewID()
	for _, d := range due[:min(len(due), limit)] {
		sub := h.subs[d.d.SubscriptionID]
		dest := h.dests[sub.DestinationID]
		d.d.Attempts++
		d.d.NextAttemptTime = leaseUntil
		d.token = token
		l := domain.WebhookLease{Delivery: d.d, Token: token, Attempt: d.d.Attempts, URL: dest.URL,
			AllowPrivateNetwork: dest.AllowPrivateNetwork, Secret: sub.Secret}
		l.Delivery.Payload, l.Delivery.Log = slices.Clone(d.d.Payload), nil
		out = append(out, l)
	}
	return out, nil
}

// CompleteWebhookAttempt logs l's attempt while l holds the delivery.
func (s *Store) CompleteWebhookAttempt(_ context.Context, tenantID string, l domain.WebhookLease, o domain.WebhookOutcome) error {
	if err := checkWebhookText("attempt", o.Log.Error); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	id, _ := parseID(l.Delivery.ID)
	if td == nil || td.webhooks == nil || td.webhooks.deliveries[id] == nil {
		return domain.ErrLeaseLost
	}
	d := td.webhooks.deliveries[id]
	if d.token == "" || d.token != l.Token || d.d.Attempts != l.Attempt {
		return domain.ErrLeaseLost
	}
	d.token = ""
	d.d.State, d.d.NextAttemptTime = o.State, normTime(o.NextAttemptTime)
	a := o.Log
	a.Start = normTime(a.Start)
	a.Latency = a.Latency.Truncate(time.Microsecond)
	d.d.Log = append(d.d.Log, a)
	return nil
}

// ListWebhookDeliveries returns a page of a subscription's deliveries,
// newest first.
func (s *Store) ListWebhookDeliveries(_ context.Context, tenantID, subscriptionID string, after *domain.WebhookDeliveryCursor, limit int) ([]domain.WebhookDelivery, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	td := s.tenant(tenantID)
	sid, ok := parseID(subscriptionID)
	if td == nil || td.webhooks == nil || !ok {
		return nil, nil
	}
	newest := func(a, b domain.WebhookDelivery) int {
		return cmp.Or(b.CreateTime.Compare(a.CreateTime), strings.Compare(b.ID, a.ID))
	}
	var out []domain.WebhookDelivery
	for _, d := range td.webhooks.deliveries {
		if d.d.SubscriptionID != sid {
			continue
		}
		if after != nil && newest(d.d, domain.WebhookDelivery{CreateTime: after.CreateTime, ID: after.ID}) <= 0 {
			continue
		}
		x := d.d
		x.Payload, x.Log = slices.Clone(d.d.Payload), slices.Clone(d.d.Log)
		out = append(out, x)
	}
	slices.SortFunc(out, newest)
	return out[:min(len(out), limit)], nil
}

// PruneWebhookDeliveries deletes finished deliveries created before before.
func (s *Store) PruneWebhookDeliveries(_ context.Context, tenantID string, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	td := s.tenant(tenantID)
	if td == nil || td.webhooks == nil {
		return 0, nil
	}
	var old []*memDelivery
	for _, d := range td.webhooks.deliveries {
		if d.d.State != domain.WebhookPending && d.d.CreateTime.Before(before) {
			old = append(old, d)
		}
	}
	slices.SortFunc(old, func(a, b *memDelivery) int {
		return cmp.Or(a.d.CreateTime.Compare(b.d.CreateTime), strings.Compare(a.d.ID, b.d.ID))
	})
	old = old[:min(len(old), limit)]
	for _, d := range old {
		delete(td.webhooks.deliveries, d.d.ID)
	}
	return len(old), nil
}
