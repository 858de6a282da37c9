package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// Webhooks (domain.WebhookStore). The feed is one transaction per step: it
// takes the tenant's feed row with FOR UPDATE SKIP LOCKED (a replica that
// finds it taken skips the tenant), reads past the cursors, inserts the
// deliveries (ON CONFLICT DO NOTHING on their derived ids) and moves the
// cursors. A claim is one statement that leases due deliveries with FOR
// UPDATE SKIP LOCKED; the lease is the row's token and due time, not a lock
// held by a session, so attempts run outside any transaction and the store
// works behind PgBouncer's transaction pooling.

var _ domain.WebhookStore = (*Store)(nil)

func webhookSubNotFound(id string) error {
	return fmt.Errorf("%w: webhook subscription %q", domain.ErrNotFound, id)
}

// destinationGone turns the violation of the subscription's foreign key to
// its destination into the domain's error; other errors pass unchanged.
func destinationGone(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" && pe.ConstraintName == "webhook_subscriptions_destination_fkey" {
		return fmt.Errorf("%w: the webhook destination is not registered, or a subscription still uses it", domain.ErrFailedPrecondition)
	}
	return err
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
func (s *Store) CreateWebhookDestination(ctx context.Context, d domain.WebhookDestination) (domain.WebhookDestination, error) {
	if err := checkWebhookText("destination", d.URL, d.Description); err != nil {
		return domain.WebhookDestination{}, err
	}
	sc, ok := tenantScope(d.TenantID)
	id, idOK := parseID(d.ID)
	if !ok || !idOK {
		return domain.WebhookDestination{}, domain.Invalid("destination", "tenant and id must be UUIDs")
	}
	d.TenantID, d.ID, d.CreateTime = sc.tenant, id, normTime(d.CreateTime)
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateWebhookDestination, sc.tenant, id, d.URL, d.AllowPrivateNetwork, d.Description, d.CreateTime)
	}, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
	if err != nil {
		return domain.WebhookDestination{}, err
	}
	return d, nil
}

// ListWebhookDestinations returns the tenant's destinations by URL.
func (s *Store) ListWebhookDestinations(ctx context.Context, tenantID string) ([]domain.WebhookDestination, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.WebhookDestination
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListWebhookDestinations, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookDestination, error) {
			d := domain.WebhookDestination{TenantID: sc.tenant}
			var created pgtype.Timestamptz
			err := r.Scan(&d.ID, &d.URL, &d.AllowPrivateNetwork, &d.Description, &created)
			d.CreateTime = goTime(created)
			return d, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// DeleteWebhookDestination deletes a destination no subscription uses.
func (s *Store) DeleteWebhookDestination(ctx context.Context, tenantID, id string) error {
	sc, ok := tenantScope(tenantID)
	did, idOK := parseID(id)
	if !ok || !idOK {
		return fmt.Errorf("%w: webhook destination %q", domain.ErrNotFound, id)
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteWebhookDestination, sc.tenant, did)
	}, func(br pgx.BatchResults) error {
		var one int
		err := br.QueryRow().Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: webhook destination %q", domain.ErrNotFound, id)
		}
		return destinationGone(err)
	})
}

// subArgs checks sub and returns its canonical destination and segment ids.
func subArgs(sub *domain.WebhookSubscription) (dest string, segs []string, types []string, err error) {
	if err := checkWebhookText("subscription", sub.URL, sub.Description, sub.Secret); err != nil {
		return "", nil, nil, err
	}
	dest, ok := parseID(sub.DestinationID)
	if !ok {
		return "", nil, nil, fmt.Errorf("%w: the webhook destination is not registered", domain.ErrFailedPrecondition)
	}
	segs = make([]string, len(sub.SegmentIDs))
	for i, id := range sub.SegmentIDs {
		if segs[i], ok = parseID(id); !ok {
			return "", nil, nil, domain.Invalid("subscription.segment_ids", "must be UUIDs")
		}
	}
	types = make([]string, len(sub.EventTypes))
	for i, t := range sub.EventTypes {
		types[i] = string(t)
	}
	return dest, segs, types, nil
}

// CreateWebhookSubscription stores sub and starts the tenant's feed.
func (s *Store) CreateWebhookSubscription(ctx context.Context, sub domain.WebhookSubscription) (domain.WebhookSubscription, error) {
	dest, segs, types, err := subArgs(&sub)
	if err != nil {
		return domain.WebhookSubscription{}, err
	}
	sc, ok := tenantScope(sub.TenantID)
	id, idOK := parseID(sub.ID)
	if !ok || !idOK {
		return domain.WebhookSubscription{}, domain.Invalid("subscription", "tenant and id must be UUIDs")
	}
	sub.TenantID, sub.ID, sub.DestinationID, sub.SegmentIDs, sub.Version = sc.tenant, id, dest, segs, 1
	sub.EventTypes = slices.Clone(sub.EventTypes)
	sub.CreateTime = normTime(sub.CreateTime)
	sub.UpdateTime = sub.CreateTime
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateWebhookSubscription, sc.tenant, id, dest, types, segs, sub.Description, sub.Disabled, sub.Secret, sub.CreateTime)
		b.Queue(qStartWebhookFeed, sc.tenant)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return destinationGone(err)
		}
		_, err := br.Exec()
		return err
	})
	if err != nil {
		return domain.WebhookSubscription{}, err
	}
	return sub, nil
}

// scanSub reads a row of webhookSubColumns.
func scanSub(row pgx.Row, tenant string) (domain.WebhookSubscription, error) {
	sub := domain.WebhookSubscription{TenantID: tenant}
	var types []string
	var created, updated pgtype.Timestamptz
	err := row.Scan(&sub.ID, &sub.DestinationID, &sub.URL, &types, &sub.SegmentIDs, &sub.Description, &sub.Disabled, &sub.Secret,
		&sub.Version, &created, &updated)
	for _, t := range types {
		sub.EventTypes = append(sub.EventTypes, domain.WebhookEventType(t))
	}
	if len(sub.SegmentIDs) == 0 {
		sub.SegmentIDs = nil
	}
	sub.CreateTime, sub.UpdateTime = goTime(created), goTime(updated)
	return sub, err
}

// GetWebhookSubscription returns a subscription with its secret.
func (s *Store) GetWebhookSubscription(ctx context.Context, tenantID, id string) (domain.WebhookSubscription, error) {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.WebhookSubscription{}, webhookSubNotFound(id)
	}
	var out domain.WebhookSubscription
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetWebhookSubscription, sc.tenant, sid)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanSub(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return webhookSubNotFound(id)
		}
		return err
	})
	return out, err
}

// ListWebhookSubscriptions returns the tenant's subscriptions, oldest first.
func (s *Store) ListWebhookSubscriptions(ctx context.Context, tenantID string) ([]domain.WebhookSubscription, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.WebhookSubscription
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListWebhookSubscriptions, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookSubscription, error) { return scanSub(r, sc.tenant) })
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// UpdateWebhookSubscription replaces the subscription's fields at sub.Version.
func (s *Store) UpdateWebhookSubscription(ctx context.Context, sub domain.WebhookSubscription) (domain.WebhookSubscription, error) {
	dest, segs, types, err := subArgs(&sub)
	if err != nil {
		return domain.WebhookSubscription{}, err
	}
	sc, ok := tenantScope(sub.TenantID)
	sid, idOK := parseID(sub.ID)
	if !ok || !idOK {
		return domain.WebhookSubscription{}, webhookSubNotFound(sub.ID)
	}
	sub.UpdateTime = normTime(sub.UpdateTime)
	var out domain.WebhookSubscription
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qUpdateWebhookSubscription, sc.tenant, sid, dest, types, segs, sub.Description, sub.Disabled, sub.Secret,
			sub.UpdateTime, sub.Version)
		b.Queue(qGetWebhookSubscription, sc.tenant, sid)
	}, func(br pgx.BatchResults) error {
		var cur *int64
		var updated bool
		if err := br.QueryRow().Scan(&cur, &updated); err != nil {
			return destinationGone(err)
		}
		switch {
		case cur == nil:
			return webhookSubNotFound(sub.ID)
		case !updated:
			return fmt.Errorf("%w: webhook subscription is at version %d, not %d", domain.ErrStale, *cur, sub.Version)
		}
		var err error
		out, err = scanSub(br.QueryRow(), sc.tenant)
		return err
	})
	return out, err
}

// DeleteWebhookSubscription deletes a subscription with its deliveries.
func (s *Store) DeleteWebhookSubscription(ctx context.Context, tenantID, id string, version int64) error {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(id)
	if !ok || !idOK {
		return webhookSubNotFound(id)
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteWebhookSubscription, sc.tenant, sid, version)
	}, func(br pgx.BatchResults) error {
		var cur *int64
		var deleted bool
		if err := br.QueryRow().Scan(&cur, &deleted); err != nil {
			return err
		}
		switch {
		case cur == nil:
			return webhookSubNotFound(id)
		case !deleted:
			return fmt.Errorf("%w: webhook subscription is at version %d, not %d", domain.ErrStale, *cur, version)
		}
		return nil
	})
}

// FeedWebhooks feeds the outbox from the events after the feed's cursors,
// in one transaction that holds the tenant's feed row.
func (s *Store) FeedWebhooks(ctx context.Context, tenantID string, limit int, fn func(*domain.WebhookFeed) ([]domain.WebhookDelivery, error)) (int, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, nil
	}
	var (
		held      bool
		read      int
		segCursor int64
		horizon   string
	)
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockWebhookFeed, sc.tenant)
	}, func(br pgx.BatchResults) error {
		read, held = 0, false
		err := br.QueryRow().Scan(&segCursor, &horizon)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // no feed, or another replica holds it
		}
		held = err == nil
		return err
	}, func(tx pgx.Tx) error {
		if !held {
			return nil
		}
		r, err := readFeed(ctx, tx, sc, limit, segCursor, horizon)
		if err != nil {
			return err
		}
		f := r.feed
		read = len(f.SegmentEvents) + len(f.GradeChanges)
		var ds []domain.WebhookDelivery
		if read > 0 {
			if ds, err = fn(f); err != nil {
				return err
			}
		}
		n := len(ds)
		ids, subs, evIDs, types, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		evTimes, due, created := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		for i, d := range ds {
			if err := checkWebhookText("delivery", d.EventID, string(d.EventType), string(d.Payload)); err != nil {
				return err
			}
			var okID, okSub bool
			ids[i], okID = parseID(d.ID)
			subs[i], okSub = parseID(d.SubscriptionID)
			if !okID || !okSub {
				return domain.Invalid("delivery", "ids must be UUIDs")
			}
			evIDs[i], types[i], payloads[i] = d.EventID, string(d.EventType), string(d.Payload)
			evTimes[i], due[i], created[i] = normTime(d.EventTime), normTime(d.NextAttemptTime), normTime(d.CreateTime)
		}
		b := &pgx.Batch{}
		if n > 0 {
			b.Queue(qInsertWebhookDeliveries, sc.tenant, ids, subs, evIDs, types, evTimes, payloads, due, created)
		}
		if len(f.SegmentEvents) > 0 {
			b.Queue(qMoveSegmentCursor, sc.tenant, f.SegmentEvents[len(f.SegmentEvents)-1].Cursor)
		}
		if len(f.GradeChanges) > 0 {
			gids := make([]string, len(f.GradeChanges))
			for i, c := range f.GradeChanges {
				gids[i] = c.ID
			}
			b.Queue(qMarkGradesFed, sc.tenant, gids, r.gradeXIDs)
		}
		if len(f.GradeChanges) < limit && r.horizon != horizon {
			// Caught up: every change of a transaction below the new
			// horizon was visible to this read, so it has been fed.
			b.Queue(qMoveGradeHorizon, sc.tenant, r.horizon)
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return read, err
}

// feedRead is what readFeed read.
type feedRead struct {
	feed *domain.WebhookFeed
	// gradeXIDs are the transaction ids of feed.GradeChanges.
	gradeXIDs []string
	// horizon is the oldest transaction running before the read.
	horizon string
}

// readFeed reads the horizon, the enabled subscriptions and the events
// after the cursors.
func readFeed(ctx context.Context, tx pgx.Tx, sc scope, limit int, segCursor int64, horizon string) (feedRead, error) {
	r := feedRead{feed: &domain.WebhookFeed{}}
	f := r.feed
	b := &pgx.Batch{}
	b.Queue(qGradeHorizon)
	b.Queue(qListWebhookSubscriptions, sc.tenant)
	b.Queue(qFeedSegmentEvents, sc.tenant, segCursor, limit)
	b.Queue(qFeedGradeChanges, sc.tenant, horizon, limit)
	br := tx.SendBatch(ctx, b)
	err := func() error {
		if err := br.QueryRow().Scan(&r.horizon); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookSubscription, error) { return scanSub(r, sc.tenant) })
		if err != nil {
			return err
		}
		for _, sub := range subs {
			if !sub.Disabled {
				f.Subscriptions = append(f.Subscriptions, sub)
			}
		}
		rows, err = br.Query()
		if err != nil {
			return err
		}
		var ev domain.SegmentEvent
		var kind int16
		var at pgtype.Timestamptz
		if _, err := pgx.ForEachRow(rows, []any{&ev.Cursor, &ev.SegmentID, &ev.CustomerID, &kind, &at, &ev.Cause}, func() error {
			ev.Kind, ev.Time = domain.SegmentEventKind(kind), goTime(at)
			f.SegmentEvents = append(f.SegmentEvents, ev)
			return nil
		}); err != nil {
			return err
		}
		rows, err = br.Query()
		if err != nil {
			return err
		}
		var c domain.GradeChange
		var xid, cause string
		var when pgtype.Timestamptz
		_, err = pgx.ForEachRow(rows, []any{&xid, &c.ID, &c.CustomerID, &c.From, &c.To, &when, &c.PolicyVersion, &cause, &c.Reason}, func() error {
			c.Time, c.Cause = goTime(when), domain.GradeCause(cause)
			f.GradeChanges = append(f.GradeChanges, c)
			r.gradeXIDs = append(r.gradeXIDs, xid)
			return nil
		})
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return r, err
}

// ClaimWebhookDeliveries claims due deliveries of enabled subscriptions.
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, tenantID string, now, leaseUntil time.Time, limit int) ([]domain.WebhookLease, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	token := domain.NewID()
	var out []domain.WebhookLease
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qClaimWebhookDeliveries, sc.tenant, normTime(now), limit, token, normTime(leaseUntil))
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookLease, error) {
			l := domain.WebhookLease{Token: token}
			d := &l.Delivery
			var typ, payload string
			var evTime, created pgtype.Timestamptz
			err := r.Scan(&d.ID, &d.SubscriptionID, &d.EventID, &typ, &evTime, &payload, &d.Attempts, &created,
				&l.URL, &l.AllowPrivateNetwork, &l.Secret)
			d.TenantID, d.EventType, d.Payload, d.EventTime, d.CreateTime = sc.tenant, domain.WebhookEventType(typ), []byte(payload), goTime(evTime), goTime(created)
			d.State, d.NextAttemptTime, l.Attempt = domain.WebhookPending, normTime(leaseUntil), d.Attempts
			return l, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// CompleteWebhookAttempt logs l's attempt while l holds the delivery.
func (s *Store) CompleteWebhookAttempt(ctx context.Context, tenantID string, l domain.WebhookLease, o domain.WebhookOutcome) error {
	if err := checkWebhookText("attempt", o.Log.Error); err != nil {
		return err
	}
	sc, ok := tenantScope(tenantID)
	id, idOK := parseID(l.Delivery.ID)
	token, tokOK := parseID(l.Token)
	if !ok || !idOK || !tokOK {
		return domain.ErrLeaseLost
	}
	var next pgtype.Timestamptz
	if o.State == domain.WebhookPending {
		next = pgtype.Timestamptz{Time: normTime(o.NextAttemptTime), Valid: true}
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCompleteWebhookAttempt, sc.tenant, id, token, l.Attempt, string(o.State), next,
			normTime(o.Log.Start), o.Log.StatusCode, o.Log.Error, o.Log.Latency.Microseconds())
	}, func(br pgx.BatchResults) error {
		var one int
		if err := br.QueryRow().Scan(&one); errors.Is(err, pgx.ErrNoRows) {
			return domain.ErrLeaseLost
		} else if err != nil {
			return err
		}
		return nil
	})
}

// ListWebhookDeliveries returns a page of a subscription's deliveries,
// newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID, subscriptionID string, after *domain.WebhookDeliveryCursor, limit int) ([]domain.WebhookDelivery, error) {
	sc, ok := tenantScope(tenantID)
	sid, idOK := parseID(subscriptionID)
	if !ok || !idOK {
		return nil, nil
	}
	afterTime := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	afterID := "ffffffff-ffff-ffff-ffff-ffffffffffff"
	if after != nil {
		afterTime = pgtype.Timestamptz{Time: normTime(after.CreateTime), Valid: true}
		if id, ok := parseID(after.ID); ok {
			afterID = id
		}
	}
	var out []domain.WebhookDelivery
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListWebhookDeliveries, sc.tenant, sid, afterTime, afterID, limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.WebhookDelivery, error) {
			d := domain.WebhookDelivery{TenantID: sc.tenant, SubscriptionID: sid}
			var typ, payload, state string
			var evTime, next, created pgtype.Timestamptz
			var attempts, codes []int32
			var starts []time.Time
			var errs []string
			var latencies []int64
			err := r.Scan(&d.ID, &d.EventID, &typ, &evTime, &payload, &state, &d.Attempts, &next, &created,
				&attempts, &starts, &codes, &errs, &latencies)
			d.EventType, d.Payload, d.State = domain.WebhookEventType(typ), []byte(payload), domain.WebhookDeliveryState(state)
			d.EventTime, d.NextAttemptTime, d.CreateTime = goTime(evTime), goTime(next), goTime(created)
			for i := range attempts {
				d.Log = append(d.Log, domain.WebhookAttempt{Attempt: int(attempts[i]), Start: starts[i].UTC(), StatusCode: int(codes[i]),
					Error: errs[i], Latency: time.Duration(latencies[i]) * time.Microsecond})
			}
			return d, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// PruneWebhookDeliveries deletes finished deliveries created before before.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, tenantID string, before time.Time, limit int) (int, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return 0, nil
	}
	n := 0
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qPruneWebhookDeliveries, sc.tenant, normTime(before), limit)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
