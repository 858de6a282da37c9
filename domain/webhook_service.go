package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain/webhook"
)

// AllowInsecureWebhooks lets destinations use http on localhost (and
// loopback addresses): for development and tests only. Off by default:
// every destination must use https.
func (s *Service) AllowInsecureWebhooks(allow bool) { s.insecureWebhooks.Store(allow) }

// CreateWebhookDestination registers a URL deliveries may go to.
func (s *Service) CreateWebhookDestination(ctx context.Context, d WebhookDestination) (WebhookDestination, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return WebhookDestination{}, err
	}
	if d.URL, err = CanonicalWebhookURL(strings.TrimSpace(d.URL), "destination.url", s.insecureWebhooks.Load()); err != nil {
		return WebhookDestination{}, err
	}
	d.Description = strings.TrimSpace(d.Description)
	if len(d.Description) > 2000 {
		return WebhookDestination{}, Invalid("destination.description", "longer than 2000 bytes")
	}
	have, err := s.store.ListWebhookDestinations(ctx, p.TenantID)
	if err != nil {
		return WebhookDestination{}, err
	}
	if len(have) >= MaxWebhookDestinations {
		return WebhookDestination{}, fmt.Errorf("%w: a tenant has at most %d webhook destinations", ErrFailedPrecondition, MaxWebhookDestinations)
	}
	d.ID, d.TenantID, d.CreateTime = NewID(), p.TenantID, s.Now()
	out, err := s.store.CreateWebhookDestination(ctx, d)
	if errors.Is(err, ErrConflict) {
		return WebhookDestination{}, fmt.Errorf("%w: %s is registered", ErrConflict, d.URL)
	}
	if err != nil {
		return WebhookDestination{}, err
	}
	return out, s.audit(ctx, "webhook_destination.create", "webhook_destination", out.ID, nil, out)
}

// ListWebhookDestinations returns the caller's destinations by URL.
func (s *Service) ListWebhookDestinations(ctx context.Context) ([]WebhookDestination, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.ListWebhookDestinations(ctx, p.TenantID)
}

// DeleteWebhookDestination removes a destination; FailedPrecondition while
// a subscription uses it.
func (s *Service) DeleteWebhookDestination(ctx context.Context, id string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhookDestination(ctx, p.TenantID, id); err != nil {
		return err
	}
	return s.audit(ctx, "webhook_destination.delete", "webhook_destination", id, nil, nil)
}

// prepareSubscription normalizes and checks sub's client-set fields,
// resolving its URL to a registered destination. Field paths start with
// "subscription.".
func (s *Service) prepareSubscription(ctx context.Context, tenantID string, sub *WebhookSubscription) error {
	u, err := CanonicalWebhookURL(strings.TrimSpace(sub.URL), "subscription.url", s.insecureWebhooks.Load())
	if err != nil {
		return err
	}
	dests, err := s.store.ListWebhookDestinations(ctx, tenantID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(dests, func(d WebhookDestination) bool { return d.URL == u })
	if i < 0 {
		return &ValidationError{Violations: []FieldViolation{{Field: "subscription.url", Reason: "UNREGISTERED_DESTINATION",
			Description: fmt.Sprintf("%s is not a registered webhook destination; an admin registers it with CreateWebhookDestination", u)}}}
	}
	sub.URL, sub.DestinationID = u, dests[i].ID
	var v violations
	v.prefix = "subscription"
	types := slices.Clone(sub.EventTypes)
	slices.Sort(types)
	sub.EventTypes = slices.Compact(types)
	if len(sub.EventTypes) == 0 {
		v.add("event_types", "at least one event type is required")
	}
	segmentEvents := false
	for _, t := range sub.EventTypes {
		switch t {
		case WebhookSegmentEntered, WebhookSegmentExited:
			segmentEvents = true
		case WebhookGradeChanged:
		default:
			v.add("event_types", "unknown event type %q", t)
		}
	}
	ids := slices.Clone(sub.SegmentIDs)
	if len(ids) > 100 {
		v.add("segment_ids", "at most 100")
	} else if len(ids) > 0 && !segmentEvents {
		v.add("segment_ids", "segments are chosen only with a segment event type")
	}
	for i, id := range sub.SegmentIDs {
		if i >= 100 {
			break
		}
		if _, err := s.store.GetSegment(ctx, tenantID, id); errors.Is(err, ErrNotFound) {
			v.add(fmt.Sprintf("segment_ids[%d]", i), "no such segment")
		} else if err != nil {
			return err
		}
	}
	slices.Sort(ids)
	sub.SegmentIDs = slices.Compact(ids)
	sub.Description = strings.TrimSpace(sub.Description)
	if len(sub.Description) > 2000 {
		v.add("description", "longer than 2000 bytes")
	}
	return v.err()
}

// redacted returns sub without its secret.
func redacted(sub WebhookSubscription) WebhookSubscription {
	sub.Secret = ""
	return sub
}

// CreateWebhookSubscription subscribes a registered URL to events that
// happen from now on, with a new signing secret, which only this call (and
// RotateWebhookSecret) returns.
func (s *Service) CreateWebhookSubscription(ctx context.Context, sub WebhookSubscription) (WebhookSubscription, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return WebhookSubscription{}, err
	}
	if err := s.prepareSubscription(ctx, p.TenantID, &sub); err != nil {
		return WebhookSubscription{}, err
	}
	have, err := s.store.ListWebhookSubscriptions(ctx, p.TenantID)
	if err != nil {
		return WebhookSubscription{}, err
	}
	if len(have) >= MaxWebhookSubscriptions {
		return WebhookSubscription{}, fmt.Errorf("%w: a tenant has at most %d webhook subscriptions", ErrFailedPrecondition, MaxWebhookSubscriptions)
	}
	now := s.Now()
	sub.ID, sub.TenantID, sub.Secret, sub.Version, sub.CreateTime, sub.UpdateTime = NewID(), p.TenantID, webhook.NewSecret(), 1, now, now
	out, err := s.store.CreateWebhookSubscription(ctx, sub)
	if err != nil {
		return WebhookSubscription{}, err
	}
	return out, s.audit(ctx, "webhook_subscription.create", "webhook_subscription", out.ID, nil, redacted(out))
}

// GetWebhookSubscription returns a subscription without its secret.
func (s *Service) GetWebhookSubscription(ctx context.Context, id string) (WebhookSubscription, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return WebhookSubscription{}, err
	}
	out, err := s.store.GetWebhookSubscription(ctx, p.TenantID, id)
	return redacted(out), err
}

// ListWebhookSubscriptions returns the caller's subscriptions, oldest
// first, without their secrets.
func (s *Service) ListWebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.store.ListWebhookSubscriptions(ctx, p.TenantID)
	for i := range out {
		out[i] = redacted(out[i])
	}
	return out, err
}

// UpdateWebhookSubscription applies mutate to the subscription id (at etag,
// unless ""), checks the result as on creation and stores it. mutate may
// change URL, EventTypes, SegmentIDs, Description and Disabled.
func (s *Service) UpdateWebhookSubscription(ctx context.Context, id, etag string, mutate func(*WebhookSubscription) error) (WebhookSubscription, error) {
	return s.changeSubscription(ctx, id, etag, "webhook_subscription.update", mutate)
}

// RotateWebhookSecret gives a subscription a new signing secret and returns
// it; attempts claimed from then on are signed with it.
func (s *Service) RotateWebhookSecret(ctx context.Context, id string) (WebhookSubscription, error) {
	return s.changeSubscription(ctx, id, "", "webhook_subscription.rotate_secret", func(next *WebhookSubscription) error {
		next.Secret = webhook.NewSecret()
		return nil
	})
}

func (s *Service) changeSubscription(ctx context.Context, id, etag, action string, change func(*WebhookSubscription) error) (WebhookSubscription, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return WebhookSubscription{}, err
	}
	cur, err := s.store.GetWebhookSubscription(ctx, p.TenantID, id)
	if err != nil {
		return WebhookSubscription{}, err
	}
	if err := checkEtag(etag, cur.Version, "webhook subscription"); err != nil {
		return WebhookSubscription{}, err
	}
	next := cur
	next.EventTypes, next.SegmentIDs = slices.Clone(cur.EventTypes), slices.Clone(cur.SegmentIDs)
	if err := change(&next); err != nil {
		return WebhookSubscription{}, err
	}
	if err := s.prepareSubscription(ctx, p.TenantID, &next); err != nil {
		return WebhookSubscription{}, err
	}
	next.ID, next.TenantID, next.Version, next.CreateTime, next.UpdateTime = cur.ID, cur.TenantID, cur.Version, cur.CreateTime, s.Now()
	out, err := s.store.UpdateWebhookSubscription(ctx, next)
	if err != nil {
		return WebhookSubscription{}, err
	}
	if err := s.audit(ctx, action, "webhook_subscription", out.ID, redacted(cur), redacted(out)); err != nil {
		return WebhookSubscription{}, err
	}
	if action == "webhook_subscription.rotate_secret" {
		return out, nil
	}
	return redacted(out), nil
}

// DeleteWebhookSubscription deletes a subscription (at etag, unless "")
// with its deliveries.
func (s *Service) DeleteWebhookSubscription(ctx context.Context, id, etag string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	var version int64
	if etag != "" {
		if version, err = parseETag(etag); err != nil {
			return err
		}
	}
	if err := s.store.DeleteWebhookSubscription(ctx, p.TenantID, id, version); err != nil {
		return err
	}
	return s.audit(ctx, "webhook_subscription.delete", "webhook_subscription", id, nil, nil)
}

// ListWebhookDeliveriesRequest is one page request of a delivery log.
type ListWebhookDeliveriesRequest struct {
	SubscriptionID string
	PageSize       int
	PageToken      string
}

// ListWebhookDeliveries returns one page of a subscription's delivery log,
// newest first, with each delivery's attempts, and the next page's token
// ("" on the last).
func (s *Service) ListWebhookDeliveries(ctx context.Context, r ListWebhookDeliveriesRequest) ([]WebhookDelivery, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.store.GetWebhookSubscription(ctx, p.TenantID, r.SubscriptionID); err != nil {
		return nil, "", err
	}
	size, err := scoringPageSize(r.PageSize)
	if err != nil {
		return nil, "", err
	}
	filter := "webhook_deliveries/" + r.SubscriptionID
	cur, err := DecodePageToken(p.TenantID, filter, "create_time desc", r.PageToken)
	if err != nil {
		return nil, "", err
	}
	var after *WebhookDeliveryCursor
	if cur != nil {
		t, ok := cur.Value.(time.Time)
		if !ok {
			return nil, "", Invalid("page_token", "malformed page token")
		}
		after = &WebhookDeliveryCursor{CreateTime: t, ID: cur.ID}
	}
	out, err := s.store.ListWebhookDeliveries(ctx, p.TenantID, r.SubscriptionID, after, size+1)
	if err != nil {
		return nil, "", err
	}
	out, next := trimPage(out, size, func(last *WebhookDelivery) string {
		return EncodePageToken(p.TenantID, filter, "create_time desc", Cursor{Value: last.CreateTime, ID: last.ID})
	})
	return out, next, nil
}
