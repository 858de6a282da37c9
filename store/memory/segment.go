package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/potentialhq/potential/domain"
)

// segmentData is a tenant's segments, members, event log and due times.
type segmentData struct {
	segments map[string]*domain.Segment      // by id
	members  map[string]map[string]time.Time // segment id -> customer id -> since
	log      []domain.SegmentEvent           // cursor i+1 at index i
	due      map[string]time.Time            // customer id -> due time
	subs     map[chan struct{}]struct{}
}

func (d *tenantData) segs() *segmentData {
	if d.segments == nil {
		d.segments = &segmentData{segments: map[string]*domain.Segment{}, members: map[string]map[string]time.Time{},
			due: map[string]time.Time{}, subs: map[chan struct{}]struct{}{}}
	}
	return d.segments
}

// segMu guards the subscriber sets, which SubscribeSegmentEvents changes
// without the store's lock.
var segMu sync.Mutex

func (sd *segmentData) append(ev domain.SegmentEvent) {
	ev.Cursor = int64(len(sd.log)) + 1
	sd.log = append(sd.log, ev)
}

func (sd *segmentData) wake() {
	segMu.Lock()
	defer segMu.Unlock()
	for ch := range sd.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func segmentNotFound(id string) error { return fmt.Errorf("%w: segment %q", domain.ErrNotFound, id) }

// CreateSegment stores sg; ErrConflict if its id or name is taken.
func (s *Store) CreateSegment(_ context.Context, sg domain.Segment) (domain.Segment, error) {
	tid, ok := parseID(sg.TenantID)
	id, idOK := parseID(sg.ID)
	if !ok || !idOK {
		return domain.Segment{}, domain.Invalid("segment", "tenant and id must be UUIDs")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.data[tid]
	if d == nil {
		return domain.Segment{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tid)
	}
	sd := d.segs()
	for _, o := range sd.segments {
		if o.Name == sg.Name || o.ID == id {
			return domain.Segment{}, fmt.Errorf("%w: segment %q", domain.ErrConflict, sg.Name)
		}
	}
	sg.ID, sg.TenantID, sg.Version = id, tid, 1
	sg.CreateTime, sg.UpdateTime = normTime(sg.CreateTime), normTime(sg.UpdateTime)
	sd.segments[id] = &sg
	sd.members[id] = map[string]time.Time{}
	return sg, nil
}

func (s *Store) segment(tenantID, id string) (*segmentData, *domain.Segment) {
	d := s.tenant(tenantID)
	if d == nil || d.segments == nil {
		return nil, nil
	}
	sid, ok := parseID(id)
	if !ok {
		return nil, nil
	}
	return d.segments, d.segments.segments[sid]
}

// GetSegment returns a segment by id.
func (s *Store) GetSegment(_ context.Context, tenantID, id string) (domain.Segment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, sg := s.segment(tenantID, id)
	if sg == nil {
		return domain.Segment{}, segmentNotFound(id)
	}
	return *sg, nil
}

// ListSegments returns the tenant's segments by name.
func (s *Store) ListSegments(_ context.Context, tenantID string) ([]domain.Segment, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.segments == nil {
		return nil, nil
	}
	out := make([]domain.Segment, 0, len(d.segments.segments))
	for _, sg := range d.segments.segments {
		out = append(out, *sg)
	}
	slices.SortFunc(out, func(a, b domain.Segment) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// UpdateSegment replaces the client-set fields of sg.ID at sg.Version.
func (s *Store) UpdateSegment(_ context.Context, sg domain.Segment) (domain.Segment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd, cur := s.segment(sg.TenantID, sg.ID)
	if cur == nil {
		return domain.Segment{}, segmentNotFound(sg.ID)
	}
	if cur.Version != sg.Version {
		return domain.Segment{}, fmt.Errorf("%w: segment is at version %d, not %d", domain.ErrStale, cur.Version, sg.Version)
	}
	for _, o := range sd.segments {
		if o.Name == sg.Name && o.ID != cur.ID {
			return domain.Segment{}, fmt.Errorf("%w: segment %q", domain.ErrConflict, sg.Name)
		}
	}
	next := *cur
	next.Name, next.Description, next.Rule = sg.Name, sg.Description, sg.Rule
	next.Version, next.UpdateTime = cur.Version+1, normTime(sg.UpdateTime)
	*cur = next
	return next, nil
}

// DeleteSegment deletes a segment with its members, each with an exited event.
func (s *Store) DeleteSegment(_ context.Context, tenantID, id string, version int64, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd, cur := s.segment(tenantID, id)
	if cur == nil {
		return segmentNotFound(id)
	}
	if version != 0 && cur.Version != version {
		return fmt.Errorf("%w: segment is at version %d, not %d", domain.ErrStale, cur.Version, version)
	}
	ids := make([]string, 0, len(sd.members[cur.ID]))
	for cid := range sd.members[cur.ID] {
		ids = append(ids, cid)
	}
	sort.Strings(ids)
	for _, cid := range ids {
		sd.append(domain.SegmentEvent{SegmentID: cur.ID, CustomerID: cid, Kind: domain.SegmentExited, Time: normTime(at), Cause: "segment_changed"})
	}
	delete(sd.members, cur.ID)
	delete(sd.segments, cur.ID)
	if len(ids) > 0 {
		sd.wake()
	}
	return nil
}

// facts reads the segment facts of customer c at now; s.mu is held.
func (d *tenantData) facts(c *domain.Customer, now time.Time) domain.SegmentFacts {
	f := domain.SegmentFacts{Customer: cloneCustomer(c)}
	policyModel := ""
	if d.scoring != nil {
		f.Grade = d.scoring.grades[c.ID]
		if n := len(d.scoring.policies); n > 0 {
			policyModel = d.scoring.policies[n-1].EngagementModelID
		}
	}
	f.Conversion = domain.RuleLeadScore(d.leadScores(c.ID), policyModel)
	if fd := d.feedbackOf(false); fd != nil {
		for _, fb := range fd.byID {
			if fb.CustomerID == c.ID && fb.Kind == domain.FeedbackComplaint && fb.Status.Unresolved() {
				f.OpenComplaints++
			}
		}
	}
	if ev := d.events[c.ID]; ev != nil {
		for _, it := range ev.its {
			if age := now.Sub(it.OccurredAt); age >= 0 && age < domain.SegmentWindow {
				f.RecentInteractions = append(f.RecentInteractions, it.OccurredAt)
			}
		}
		slices.SortFunc(f.RecentInteractions, func(a, b time.Time) int { return a.Compare(b) })
	}
	return f
}

// customerIDs returns the ids of the tenant's customers (ids, or all when
// ids is nil and all is set) that exist, sorted; s.mu is held.
func (d *tenantData) customerIDs(ids []string, all bool) []string {
	var out []string
	if all {
		for id := range d.customers {
			out = append(out, id)
		}
	} else {
		for _, id := range ids {
			if cid, ok := parseID(id); ok && d.customers[cid] != nil {
				out = append(out, cid)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// deleteSegmentsOf erases a customer's memberships, due time and events
// (their cursors stay unused).
func (d *tenantData) deleteSegmentsOf(id string) {
	if d.segments == nil {
		return
	}
	for _, ms := range d.segments.members {
		delete(ms, id)
	}
	delete(d.segments.due, id)
	for i := range d.segments.log {
		if d.segments.log[i].CustomerID == id {
			d.segments.log[i] = domain.SegmentEvent{Cursor: d.segments.log[i].Cursor}
		}
	}
}

// ReadSegmentFacts hands fn the facts of the customers, 1000 at a time.
func (s *Store) ReadSegmentFacts(_ context.Context, tenantID string, ids []string, now time.Time, fn func([]domain.SegmentFacts) error) error {
	s.mu.RLock()
	d := s.tenant(tenantID)
	if d == nil {
		s.mu.RUnlock()
		return nil
	}
	var fs []domain.SegmentFacts
	for _, id := range d.customerIDs(ids, ids == nil) {
		fs = append(fs, d.facts(d.customers[id], now))
	}
	s.mu.RUnlock()
	for start := 0; start < len(fs); start += 1000 {
		if err := fn(fs[start:min(start+1000, len(fs))]); err != nil {
			return err
		}
	}
	return nil
}

// EvaluateSegments runs fn over the customers of run under the store's
// lock and writes the changes it decides.
func (s *Store) EvaluateSegments(_ context.Context, tenantID string, run domain.SegmentRun, fn func(*domain.SegmentBatch) ([]domain.SegmentDecision, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return nil
	}
	sd := d.segs()
	b := &domain.SegmentBatch{Actions: d.actions}
	b.Actions.Rules = slices.Clone(b.Actions.Rules)
	for _, sg := range sd.segments {
		if sg.Kind == domain.SegmentDynamic {
			b.Segments = append(b.Segments, *sg)
		}
	}
	slices.SortFunc(b.Segments, func(a, b domain.Segment) int { return strings.Compare(a.ID, b.ID) })
	evaluated := map[string]bool{}
	for _, sg := range b.Segments {
		if run.SegmentIDs == nil || slices.Contains(run.SegmentIDs, sg.ID) {
			evaluated[sg.ID] = true
		}
	}
	ids := d.customerIDs(run.CustomerIDs, run.All)
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		b.Facts = append(b.Facts, d.facts(d.customers[id], run.Now))
	}
	ds, err := fn(b)
	if err != nil {
		return err
	}
	at := normTime(run.Now)
	n := len(sd.log)
	for _, dec := range ds {
		if d.customers[dec.CustomerID] == nil {
			continue
		}
		want := map[string]bool{}
		for _, id := range dec.Members {
			want[id] = true
		}
		for _, sg := range b.Segments {
			if !evaluated[sg.ID] {
				continue
			}
			_, in := sd.members[sg.ID][dec.CustomerID]
			switch {
			case want[sg.ID] && !in:
				sd.members[sg.ID][dec.CustomerID] = at
				sd.append(domain.SegmentEvent{SegmentID: sg.ID, CustomerID: dec.CustomerID, Kind: domain.SegmentEntered, Time: at, Cause: run.Cause})
			case !want[sg.ID] && in:
				delete(sd.members[sg.ID], dec.CustomerID)
				sd.append(domain.SegmentEvent{SegmentID: sg.ID, CustomerID: dec.CustomerID, Kind: domain.SegmentExited, Time: at, Cause: run.Cause})
			}
		}
		cur, has := sd.due[dec.CustomerID]
		switch {
		case run.KeepDue:
		case run.SegmentIDs != nil && (dec.Due.IsZero() || has && !dec.Due.Before(cur)): // another rule may need it
		case dec.Due.IsZero():
			delete(sd.due, dec.CustomerID)
		default:
			sd.due[dec.CustomerID] = normTime(dec.Due)
		}
	}
	if len(sd.log) > n {
		sd.wake()
	}
	return nil
}

// ChangeStaticMembers adds and removes members of a static segment.
func (s *Store) ChangeStaticMembers(_ context.Context, tenantID, segmentID string, add, remove []string, at time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sd, sg := s.segment(tenantID, segmentID)
	if sg == nil {
		return 0, segmentNotFound(segmentID)
	}
	if sg.Kind != domain.SegmentStatic {
		return 0, fmt.Errorf("%w: segment %q is dynamic", domain.ErrFailedPrecondition, sg.Name)
	}
	d := s.tenant(tenantID)
	at = normTime(at)
	n := 0
	for _, id := range d.customerIDs(add, false) {
		if _, in := sd.members[sg.ID][id]; !in {
			sd.members[sg.ID][id] = at
			sd.append(domain.SegmentEvent{SegmentID: sg.ID, CustomerID: id, Kind: domain.SegmentEntered, Time: at, Cause: "static"})
			n++
		}
	}
	for _, id := range d.customerIDs(remove, false) {
		if _, in := sd.members[sg.ID][id]; in {
			delete(sd.members[sg.ID], id)
			sd.append(domain.SegmentEvent{SegmentID: sg.ID, CustomerID: id, Kind: domain.SegmentExited, Time: at, Cause: "static"})
			n++
		}
	}
	if n > 0 {
		sd.wake()
	}
	return n, nil
}

// ListSegmentMembers lists members in customer id order after after.
func (s *Store) ListSegmentMembers(_ context.Context, tenantID, segmentID, after string, limit int) ([]domain.SegmentMember, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sd, sg := s.segment(tenantID, segmentID)
	if sg == nil {
		return nil, segmentNotFound(segmentID)
	}
	var out []domain.SegmentMember
	for cid, since := range sd.members[sg.ID] {
		if cid > after {
			out = append(out, domain.SegmentMember{CustomerID: cid, Since: since})
		}
	}
	slices.SortFunc(out, func(a, b domain.SegmentMember) int { return strings.Compare(a.CustomerID, b.CustomerID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// CustomerSegments returns the ids of the segments a customer is in, sorted.
func (s *Store) CustomerSegments(_ context.Context, tenantID, customerID string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	cid, ok := parseID(customerID)
	if d == nil || d.segments == nil || !ok {
		return nil, nil
	}
	var out []string
	for sid, ms := range d.segments.members {
		if _, in := ms[cid]; in {
			out = append(out, sid)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListSegmentEvents returns events of the log in cursor order.
func (s *Store) ListSegmentEvents(_ context.Context, tenantID string, q domain.SegmentEventQuery) ([]domain.SegmentEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.segments == nil || q.Limit <= 0 {
		return nil, nil
	}
	var out []domain.SegmentEvent
	cid, _ := parseID(q.CustomerID)
	for i := max(q.After, 0); i < int64(len(d.segments.log)) && len(out) < q.Limit; i++ {
		ev := d.segments.log[i]
		if ev.CustomerID == "" { // erased
			continue
		}
		if (q.SegmentIDs == nil || slices.Contains(q.SegmentIDs, ev.SegmentID)) && (q.CustomerID == "" || ev.CustomerID == cid) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// DueSegmentCustomers returns customers due at or before now, earliest first.
func (s *Store) DueSegmentCustomers(_ context.Context, tenantID string, now time.Time, limit int) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil || d.segments == nil {
		return nil, nil
	}
	type due struct {
		id string
		at time.Time
	}
	var ds []due
	for id, at := range d.segments.due {
		if !at.After(now) {
			ds = append(ds, due{id, at})
		}
	}
	slices.SortFunc(ds, func(a, b due) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, 0, min(len(ds), limit))
	for i := 0; i < len(ds) && i < limit; i++ {
		out = append(out, ds[i].id)
	}
	return out, nil
}

// SubscribeSegmentEvents wakes the caller after this store appends events
// of the tenant.
func (s *Store) SubscribeSegmentEvents(tenantID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	d := s.tenant(tenantID)
	var sd *segmentData
	if d != nil {
		sd = d.segs()
	}
	s.mu.Unlock()
	if sd == nil {
		return ch, func() {}
	}
	segMu.Lock()
	sd.subs[ch] = struct{}{}
	segMu.Unlock()
	return ch, func() {
		segMu.Lock()
		delete(sd.subs, ch)
		segMu.Unlock()
	}
}
