package domain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CreateSegment validates and stores a segment of the caller's tenant: a
// dynamic one is populated from its rule before CreateSegment returns
// (every member gets an entered event); a static one starts with members
// (by id or external id; unknown ones are an InvalidArgument).
func (s *Service) CreateSegment(ctx context.Context, sg Segment, members []CustomerRef) (Segment, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Segment{}, err
	}
	if err := s.ensureBuiltIns(ctx, p.TenantID); err != nil {
		return Segment{}, err
	}
	sg.Name, sg.Description, sg.Rule = strings.TrimSpace(sg.Name), strings.TrimSpace(sg.Description), strings.TrimSpace(sg.Rule)
	if err := sg.Validate(); err != nil {
		return Segment{}, err
	}
	if sg.Kind == SegmentDynamic && len(members) > 0 {
		return Segment{}, Invalid("members", "a dynamic segment's members come from its rule")
	}
	ids, err := s.resolveMembers(ctx, p.TenantID, "members", members)
	if err != nil {
		return Segment{}, err
	}
	existing, err := s.store.ListSegments(ctx, p.TenantID)
	if err != nil {
		return Segment{}, err
	}
	if len(existing) >= MaxSegments {
		return Segment{}, fmt.Errorf("%w: a tenant has at most %d segments", ErrFailedPrecondition, MaxSegments)
	}
	now := s.Now()
	sg.ID, sg.TenantID, sg.Version, sg.CreateTime, sg.UpdateTime, sg.BuiltIn = NewID(), p.TenantID, 1, now, now, false
	out, err := s.store.CreateSegment(ctx, sg)
	if errors.Is(err, ErrConflict) {
		return Segment{}, fmt.Errorf("%w: a segment named %q exists", ErrConflict, sg.Name)
	}
	if err != nil {
		return Segment{}, err
	}
	if err := s.audit(ctx, "segment.create", "segment", out.ID, nil, out); err != nil {
		return Segment{}, err
	}
	if out.Kind == SegmentDynamic {
		return out, s.populateSegments(ctx, p.TenantID, []Segment{out}, "segment_changed")
	}
	if len(ids) > 0 {
		if _, err := s.store.ChangeStaticMembers(ctx, p.TenantID, out.ID, ids, nil, now); err != nil {
			return Segment{}, err
		}
	}
	return out, nil
}

// resolveMembers turns references into customer ids; a reference to no
// customer of the tenant is an InvalidArgument on field[i].
func (s *Service) resolveMembers(ctx context.Context, tenantID, field string, refs []CustomerRef) ([]string, error) {
	if len(refs) > MaxMembersPerCall {
		return nil, Invalid(field, "at most %d per call", MaxMembersPerCall)
	}
	ids := make([]string, 0, len(refs))
	var v violations
	for i, r := range refs {
		if r.ID == "" && r.ExternalID == "" {
			v.add(itemPath(field, i), "names no customer: set id or external_id")
			continue
		}
		c, err := s.store.GetCustomer(ctx, tenantID, r)
		if errors.Is(err, ErrNotFound) {
			v.add(itemPath(field, i), "no such customer in this tenant")
			continue
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, c.ID)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// GetSegment returns a segment of the caller's tenant.
func (s *Service) GetSegment(ctx context.Context, id string) (Segment, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Segment{}, err
	}
	if err := s.ensureBuiltIns(ctx, p.TenantID); err != nil {
		return Segment{}, err
	}
	return s.store.GetSegment(ctx, p.TenantID, id)
}

// ListSegments returns the caller's segments by name, the built-in ones
// included.
func (s *Service) ListSegments(ctx context.Context) ([]Segment, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.ensureBuiltIns(ctx, p.TenantID); err != nil {
		return nil, err
	}
	return s.store.ListSegments(ctx, p.TenantID)
}

// UpdateSegment applies mutate to the stored segment (at etag, when given)
// and saves it. A changed rule re-evaluates the segment over every
// customer: those who no longer match get exited events, new matches
// entered events. The kind of a segment cannot change; built-in segments
// cannot be updated.
func (s *Service) UpdateSegment(ctx context.Context, id, etag string, mutate func(*Segment) error) (Segment, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return Segment{}, err
	}
	cur, err := s.store.GetSegment(ctx, p.TenantID, id)
	if err != nil {
		return Segment{}, err
	}
	if err := checkEtag(etag, cur.Version, "segment"); err != nil {
		return Segment{}, err
	}
	if cur.BuiltIn {
		return Segment{}, fmt.Errorf("%w: built-in segment %q cannot be changed", ErrFailedPrecondition, cur.Name)
	}
	next := cur
	if err := mutate(&next); err != nil {
		return Segment{}, err
	}
	next.Name, next.Description, next.Rule = strings.TrimSpace(next.Name), strings.TrimSpace(next.Description), strings.TrimSpace(next.Rule)
	if next.Kind != cur.Kind {
		return Segment{}, Invalid("segment.kind", "the kind of a segment cannot change")
	}
	if err := next.Validate(); err != nil {
		return Segment{}, err
	}
	if next.Name == cur.Name && next.Description == cur.Description && next.Rule == cur.Rule {
		return cur, nil
	}
	next.ID, next.TenantID, next.Version, next.BuiltIn, next.CreateTime = cur.ID, cur.TenantID, cur.Version, false, cur.CreateTime
	next.UpdateTime = s.Now()
	out, err := s.store.UpdateSegment(ctx, next)
	if errors.Is(err, ErrConflict) {
		return Segment{}, fmt.Errorf("%w: a segment named %q exists", ErrConflict, next.Name)
	}
	if err != nil {
		return Segment{}, err
	}
	if err := s.audit(ctx, "segment.update", "segment", out.ID, cur, out); err != nil {
		return Segment{}, err
	}
	if out.Kind == SegmentDynamic && out.Rule != cur.Rule {
		return out, s.populateSegments(ctx, p.TenantID, []Segment{out}, "segment_changed")
	}
	return out, nil
}

func checkEtag(etag string, version int64, what string) error {
	if etag == "" {
		return nil
	}
	want, err := parseETag(etag)
	if err != nil {
		return err
	}
	if want != version {
		return fmt.Errorf("%w: %s is at %s, not %s", ErrStale, what, ETag(version), etag)
	}
	return nil
}

// DeleteSegment deletes a segment (at etag, when given); every member gets
// an exited event. Built-in segments cannot be deleted.
func (s *Service) DeleteSegment(ctx context.Context, id, etag string) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	cur, err := s.store.GetSegment(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if err := checkEtag(etag, cur.Version, "segment"); err != nil {
		return err
	}
	if cur.BuiltIn {
		return fmt.Errorf("%w: built-in segment %q cannot be deleted", ErrFailedPrecondition, cur.Name)
	}
	if err := s.store.DeleteSegment(ctx, p.TenantID, cur.ID, cur.Version, s.Now()); err != nil {
		return err
	}
	return s.audit(ctx, "segment.delete", "segment", cur.ID, cur, nil)
}

// ChangeSegmentMembers adds and removes members of a static segment, by id
// or external id, and returns the number of actual changes (each with its
// event).
func (s *Service) ChangeSegmentMembers(ctx context.Context, id string, add, remove []CustomerRef) (int, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return 0, err
	}
	sg, err := s.store.GetSegment(ctx, p.TenantID, id)
	if err != nil {
		return 0, err
	}
	if sg.Kind != SegmentStatic {
		return 0, fmt.Errorf("%w: segment %q is dynamic: its rule chooses its members", ErrFailedPrecondition, sg.Name)
	}
	addIDs, err := s.resolveMembers(ctx, p.TenantID, "add", add)
	if err != nil {
		return 0, err
	}
	removeIDs, err := s.resolveMembers(ctx, p.TenantID, "remove", remove)
	if err != nil {
		return 0, err
	}
	return s.store.ChangeStaticMembers(ctx, p.TenantID, sg.ID, addIDs, removeIDs, s.Now())
}

// SegmentPreview is what a rule would select now.
type SegmentPreview struct {
	Count  int64
	Sample []Customer // the first members in customer id order
}

// MaxPreviewSample bounds PreviewSegment's sample.
const MaxPreviewSample = 100

// PreviewSegment counts the customers an unsaved rule selects now, with a
// sample of at most sample of them (10 when 0), without storing anything.
// Saved as a segment at the same time, the rule gets exactly these members.
func (s *Service) PreviewSegment(ctx context.Context, rule string, sample int) (SegmentPreview, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return SegmentPreview{}, err
	}
	sg := Segment{Name: "preview", Kind: SegmentDynamic, Rule: strings.TrimSpace(rule)}
	if err := sg.Validate(); err != nil {
		return SegmentPreview{}, err
	}
	switch {
	case sample < 0:
		return SegmentPreview{}, Invalid("sample_size", "must not be negative")
	case sample == 0:
		sample = 10
	}
	sample = min(sample, MaxPreviewSample)
	sg.ID = "preview"
	now := s.Now()
	actions, err := s.actionTable(ctx, p.TenantID)
	if err != nil {
		return SegmentPreview{}, err
	}
	var out SegmentPreview
	err = s.store.ReadSegmentFacts(ctx, p.TenantID, nil, now, func(fs []SegmentFacts) error {
		ds, err := decideSegments(&SegmentBatch{Segments: []Segment{sg}, Facts: fs, Actions: actions}, nil, now)
		if err != nil {
			return err
		}
		for i, d := range ds {
			if len(d.Members) == 0 {
				continue
			}
			out.Count++
			if len(out.Sample) < sample {
				out.Sample = append(out.Sample, fs[i].Customer)
			}
		}
		return nil
	})
	slices.SortFunc(out.Sample, func(a, b Customer) int { return strings.Compare(a.ID, b.ID) })
	return out, err
}

// ListSegmentMembers returns one page of a segment's members in customer
// id order, and the next page's token ("" on the last).
func (s *Service) ListSegmentMembers(ctx context.Context, id string, pageSize int, pageToken string) ([]SegmentMember, string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, "", err
	}
	size, err := segmentPageSize(pageSize)
	if err != nil {
		return nil, "", err
	}
	sg, err := s.store.GetSegment(ctx, p.TenantID, id)
	if err != nil {
		return nil, "", err
	}
	after := ""
	cur, err := DecodePageToken(p.TenantID, "segment:"+sg.ID, "members", pageToken)
	if err != nil {
		return nil, "", err
	}
	if cur != nil {
		after = cur.ID
	}
	ms, err := s.store.ListSegmentMembers(ctx, p.TenantID, sg.ID, after, size+1)
	if err != nil {
		return nil, "", err
	}
	ms, next := trimPage(ms, size, func(last *SegmentMember) string {
		return EncodePageToken(p.TenantID, "segment:"+sg.ID, "members", Cursor{Value: "", ID: last.CustomerID})
	})
	return ms, next, nil
}

// ListSegmentEventsRequest is one page request of ListSegmentEvents.
type ListSegmentEventsRequest struct {
	SegmentIDs []string
	// Customer, when set, lists that customer's membership history.
	Customer CustomerRef
	// AfterCursor: events after this cursor (0: from the start).
	AfterCursor int64
	PageSize    int
}

// ListSegmentEvents returns events of the caller's segment log in cursor
// order, and the cursor to continue after (the last event's).
func (s *Service) ListSegmentEvents(ctx context.Context, r ListSegmentEventsRequest) ([]SegmentEvent, int64, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, 0, err
	}
	q, err := s.eventQuery(ctx, p.TenantID, r.SegmentIDs, r.AfterCursor)
	if err != nil {
		return nil, 0, err
	}
	if q.Limit, err = segmentPageSize(r.PageSize); err != nil {
		return nil, 0, err
	}
	if r.Customer.ID != "" || r.Customer.ExternalID != "" {
		c, err := s.store.GetCustomer(ctx, p.TenantID, r.Customer)
		if err != nil {
			return nil, 0, err
		}
		q.CustomerID = c.ID
	}
	evs, err := s.store.ListSegmentEvents(ctx, p.TenantID, q)
	if err != nil {
		return nil, 0, err
	}
	last := r.AfterCursor
	if len(evs) > 0 {
		last = evs[len(evs)-1].Cursor
	}
	return evs, last, nil
}

// eventQuery checks the segment ids and cursor of an event read.
func (s *Service) eventQuery(ctx context.Context, tenantID string, segmentIDs []string, after int64) (SegmentEventQuery, error) {
	if after < 0 {
		return SegmentEventQuery{}, Invalid("after_cursor", "must not be negative")
	}
	q := SegmentEventQuery{After: after}
	for i, id := range segmentIDs {
		if _, err := uuid.Parse(id); err != nil {
			return q, Invalid(itemPath("segment_ids", i), "must be a UUID")
		}
		if _, err := s.store.GetSegment(ctx, tenantID, id); err != nil {
			if errors.Is(err, ErrNotFound) {
				return q, fmt.Errorf("%w: segment %s", ErrNotFound, id)
			}
			return q, err
		}
		q.SegmentIDs = append(q.SegmentIDs, id)
	}
	return q, nil
}

// WatchPoll is how often a watcher reads the log when no wake-up arrives:
// the bound on delivery delay if notifications are lost (e.g. behind a
// transaction-pooling proxy).
var WatchPoll = time.Second

// WatchSegmentEvents sends the caller's segment events (of segmentIDs, or
// of every segment) after cursor after, in cursor order, as they are
// appended by any process, until ctx ends or send fails. A watcher that
// reconnects with the cursor of the last event it received gets every
// later event exactly once: the log is read in cursor order, cursors are
// assigned in commit order, and nothing is held only in memory.
func (s *Service) WatchSegmentEvents(ctx context.Context, segmentIDs []string, after int64, send func([]SegmentEvent) error) error {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return err
	}
	q, err := s.eventQuery(ctx, p.TenantID, segmentIDs, after)
	if err != nil {
		return err
	}
	q.Limit = 500
	wake, stop := s.store.SubscribeSegmentEvents(p.TenantID)
	defer stop()
	timer := time.NewTimer(WatchPoll)
	defer timer.Stop()
	for {
		evs, err := s.store.ListSegmentEvents(ctx, p.TenantID, q)
		if err != nil {
			return err
		}
		if len(evs) > 0 {
			if err := send(evs); err != nil {
				return err
			}
			q.After = evs[len(evs)-1].Cursor
			if len(evs) == q.Limit {
				continue
			}
		}
		timer.Reset(WatchPoll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-timer.C:
		}
	}
}

// CustomerSegments returns the ids of the segments a customer is in now.
func (s *Service) CustomerSegments(ctx context.Context, ref CustomerRef) ([]string, error) {
	p, err := PrincipalFrom(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, p.TenantID, ref)
	if err != nil {
		return nil, err
	}
	return s.store.CustomerSegments(ctx, p.TenantID, c.ID)
}
