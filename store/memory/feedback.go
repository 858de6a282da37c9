package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// feedbackData holds one tenant's feedback and topic rules.
type feedbackData struct {
	byID       map[string]*domain.Feedback  // by id
	byExternal map[string]string            // external id -> id
	rules      map[string]*domain.TopicRule // by topic
}

// feedbackOf returns the tenant's feedback data, creating it if create is
// set (under the write lock); nil if there is none and create is not set.
func (d *tenantData) feedbackOf(create bool) *feedbackData {
	if d == nil {
		return nil
	}
	if d.feedback == nil && create {
		d.feedback = &feedbackData{byID: map[string]*domain.Feedback{}, byExternal: map[string]string{}, rules: map[string]*domain.TopicRule{}}
	}
	return d.feedback
}

// deleteFeedbackOf erases a customer's feedback (DeleteCustomer).
func (d *tenantData) deleteFeedbackOf(customerID string) {
	fd := d.feedbackOf(false)
	if fd == nil {
		return
	}
	for id, f := range fd.byID {
		if f.CustomerID == customerID {
			delete(fd.byID, id)
			delete(fd.byExternal, f.ExternalID)
		}
	}
}

// cloneFeedback returns a deep copy of f.
func cloneFeedback(f *domain.Feedback) domain.Feedback {
	out := *f
	out.Transitions = slices.Clone(f.Transitions)
	return out
}

// checkFeedback checks what submitted feedback needs to be storable: the
// same checks store/postgres makes, with the same fields and errors.
func checkFeedback(f *domain.Feedback) error {
	if _, ok := parseID(f.ID); !ok {
		return domain.Invalid("id", "must be a UUID")
	}
	for _, t := range []struct{ field, s string }{
		{"external_id", f.ExternalID}, {"channel", f.Channel}, {"topic", f.Topic}, {"text", f.Text},
		{"topic_source", string(f.TopicSource)},
	} {
		if err := checkText(t.s); err != nil {
			return fieldError(t.field, err)
		}
	}
	if f.ExternalID == "" {
		return domain.Invalid("external_id", "required")
	}
	if !f.Kind.Valid() {
		return domain.Invalid("kind", "unknown feedback kind %q", f.Kind)
	}
	if lo, hi, scored := f.Kind.ScoreRange(); scored != f.HasScore || (scored && (f.Score < lo || f.Score > hi)) {
		return domain.Invalid("score", "out of range for kind %s", f.Kind)
	}
	if f.Kind == domain.FeedbackComplaint && !f.Status.Valid() || f.Kind != domain.FeedbackComplaint && f.Status != "" {
		return domain.Invalid("status", "a complaint has a status, other feedback none")
	}
	for _, t := range []struct {
		field string
		t     time.Time
	}{{"occurred_at", f.OccurredAt}, {"create_time", f.CreateTime}, {"update_time", f.UpdateTime}, {"resolve_time", f.ResolveTime}} {
		if err := checkTime(t.t); err != nil {
			return fieldError(t.field, err)
		}
	}
	if f.OccurredAt.IsZero() {
		return domain.Invalid("occurred_at", "required")
	}
	return nil
}

// checkTransition checks what a complaint transition needs to be storable.
func checkTransition(t *domain.ComplaintTransition) error {
	for _, x := range []struct{ field, s string }{{"note", t.Note}, {"actor", t.Actor}, {"request_id", t.RequestID}} {
		if err := checkText(x.s); err != nil {
			return fieldError(x.field, err)
		}
	}
	if !t.From.Valid() || !t.To.Valid() {
		return domain.Invalid("status", "unknown complaint status")
	}
	if err := checkTime(t.Time); err != nil {
		return fieldError("time", err)
	}
	if t.Time.IsZero() {
		return domain.Invalid("time", "required")
	}
	return nil
}

// SubmitFeedback stores f unless the tenant has feedback with its external
// id, which it then returns unchanged.
func (s *Store) SubmitFeedback(_ context.Context, f domain.Feedback) (domain.Feedback, bool, error) {
	if err := checkFeedback(&f); err != nil {
		return domain.Feedback{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(f.TenantID)
	if d == nil {
		return domain.Feedback{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, f.TenantID)
	}
	fd := d.feedbackOf(true)
	if id, ok := fd.byExternal[f.ExternalID]; ok {
		return cloneFeedback(fd.byID[id]), false, nil
	}
	c := d.find(domain.CustomerRef{ID: f.CustomerID})
	if c == nil {
		return domain.Feedback{}, false, notFound(domain.CustomerRef{ID: f.CustomerID})
	}
	id, _ := parseID(f.ID)
	if _, dup := fd.byID[id]; dup {
		return domain.Feedback{}, false, fmt.Errorf("%w: feedback %s exists", domain.ErrConflict, id)
	}
	stored := cloneFeedback(&f)
	stored.ID, stored.TenantID, stored.CustomerID, stored.Customer = id, c.TenantID, c.ID, domain.CustomerRef{ID: c.ID}
	stored.OccurredAt, stored.CreateTime, stored.UpdateTime = normTime(f.OccurredAt), normTime(f.CreateTime), normTime(f.UpdateTime)
	stored.ResolveTime = normTime(f.ResolveTime)
	if !stored.HasScore {
		stored.Score = 0
	}
	stored.Transitions = nil
	stored.Version = 1
	fd.byID[id] = &stored
	fd.byExternal[stored.ExternalID] = id
	return cloneFeedback(&stored), true, nil
}

// findFeedback returns the tenant's feedback id, or nil.
func (s *Store) findFeedback(tenantID, id string) *domain.Feedback {
	fid, ok := parseID(id)
	fd := s.tenant(tenantID).feedbackOf(false)
	if !ok || fd == nil {
		return nil
	}
	return fd.byID[fid]
}

func feedbackNotFound(id string) error { return fmt.Errorf("%w: feedback %q", domain.ErrNotFound, id) }

// GetFeedback returns feedback by id.
func (s *Store) GetFeedback(_ context.Context, tenantID, id string) (domain.Feedback, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f := s.findFeedback(tenantID, id)
	if f == nil {
		return domain.Feedback{}, feedbackNotFound(id)
	}
	return cloneFeedback(f), nil
}

// compareFeedback orders feedback newest first: occurred_at, then id,
// descending.
func compareFeedback(at time.Time, id string, f *domain.Feedback) int {
	if c := f.OccurredAt.Compare(at); c != 0 {
		return -c
	}
	return -strings.Compare(f.ID, id)
}

// checkFeedbackQuery validates a query and returns it with times normalised.
func checkFeedbackQuery(q domain.FeedbackQuery) (domain.FeedbackQuery, error) {
	if q.Limit <= 0 {
		return q, domain.Invalid("page_size", "must be positive")
	}
	if q.After != nil {
		t, ok := q.After.Value.(time.Time)
		id, idOK := parseID(q.After.ID)
		if !ok || !idOK || checkTime(t) != nil {
			return q, domain.Invalid("page_token", "malformed page token")
		}
		q.After = &domain.Cursor{Value: normTime(t), ID: id}
	}
	for _, x := range []struct {
		field string
		t     time.Time
	}{{"start_time", q.From}, {"end_time", q.To}} {
		if err := checkTime(x.t); err != nil {
			return q, fieldError(x.field, err)
		}
	}
	if err := checkText(q.Topic); err != nil {
		return q, fieldError("topic", err)
	}
	for _, k := range q.Kinds {
		if err := checkText(string(k)); err != nil {
			return q, fieldError("kinds", err)
		}
	}
	for _, st := range q.Statuses {
		if err := checkText(string(st)); err != nil {
			return q, fieldError("statuses", err)
		}
	}
	q.From, q.To = normTime(q.From), normTime(q.To)
	return q, nil
}

// ListFeedback returns up to q.Limit feedback matching q, newest first,
// strictly after q.After.
func (s *Store) ListFeedback(_ context.Context, tenantID string, q domain.FeedbackQuery) ([]domain.Feedback, error) {
	q, err := checkFeedbackQuery(q)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil {
		return nil, nil
	}
	customer := ""
	if q.CustomerID != "" {
		var ok bool
		if customer, ok = parseID(q.CustomerID); !ok {
			return nil, nil
		}
	}
	var rows []*domain.Feedback
	for _, f := range fd.byID {
		switch {
		case customer != "" && f.CustomerID != customer,
			len(q.Kinds) > 0 && !slices.Contains(q.Kinds, f.Kind),
			len(q.Statuses) > 0 && !slices.Contains(q.Statuses, f.Status),
			q.Topic != "" && f.Topic != q.Topic,
			!q.From.IsZero() && f.OccurredAt.Before(q.From),
			!q.To.IsZero() && !f.OccurredAt.Before(q.To),
			q.After != nil && compareFeedback(q.After.Value.(time.Time), q.After.ID, f) <= 0:
			continue
		}
		rows = append(rows, f)
	}
	slices.SortFunc(rows, func(a, b *domain.Feedback) int { return -compareFeedback(a.OccurredAt, a.ID, b) })
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
	}
	out := make([]domain.Feedback, len(rows))
	for i, f := range rows {
		out[i] = cloneFeedback(f)
	}
	return out, nil
}

// AppendTransition records transition t of complaint id if it is at version.
func (s *Store) AppendTransition(_ context.Context, tenantID, id string, version int64, t domain.ComplaintTransition) (domain.Feedback, error) {
	if err := checkTransition(&t); err != nil {
		return domain.Feedback{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.findFeedback(tenantID, id)
	switch {
	case f == nil:
		return domain.Feedback{}, feedbackNotFound(id)
	case f.Version != version:
		return domain.Feedback{}, fmt.Errorf("%w: feedback is at version %d, not %d", domain.ErrStale, f.Version, version)
	case f.Kind != domain.FeedbackComplaint:
		return domain.Feedback{}, domain.Invalid("id", "feedback %s is not a complaint", f.ID)
	}
	for _, x := range f.Transitions {
		if x.Seq == t.Seq {
			return domain.Feedback{}, fmt.Errorf("%w: transition %d of feedback %s exists", domain.ErrConflict, t.Seq, f.ID)
		}
	}
	t.Time = normTime(t.Time)
	f.Transitions = append(f.Transitions, t)
	f.Status, f.UpdateTime, f.ResolveTime = t.To, t.Time, time.Time{}
	if t.To.Resolved() {
		f.ResolveTime = t.Time
	}
	f.Version++
	return cloneFeedback(f), nil
}

// FeedbackFacts returns the facts of feedback that occurred or was resolved
// in [q.From, q.To).
func (s *Store) FeedbackFacts(_ context.Context, tenantID string, q domain.FeedbackFactQuery) ([]domain.FeedbackFact, error) {
	for _, x := range []struct {
		field string
		t     time.Time
	}{{"start_time", q.From}, {"end_time", q.To}} {
		if err := checkTime(x.t); err != nil {
			return nil, fieldError(x.field, err)
		}
	}
	from, to := normTime(q.From), normTime(q.To)
	s.mu.RLock()
	defer s.mu.RUnlock()
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil {
		return nil, nil
	}
	var customers map[string]bool
	if q.CustomerIDs != nil {
		customers = map[string]bool{}
		for _, id := range q.CustomerIDs {
			if cid, ok := parseID(id); ok {
				customers[cid] = true
			}
		}
	}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	var out []domain.FeedbackFact
	for _, f := range fd.byID {
		if customers != nil && !customers[f.CustomerID] {
			continue
		}
		if !in(f.OccurredAt) && !in(f.ResolveTime) {
			continue
		}
		out = append(out, domain.FeedbackFact{
			CustomerID: f.CustomerID, Kind: f.Kind, Score: f.Score, Topic: f.Topic, Status: f.Status,
			OccurredAt: f.OccurredAt, ResolveTime: f.ResolveTime,
		})
	}
	return out, nil
}

// FeedbackEvents returns the scoring events of a customer's feedback,
// oldest first, then by id.
func (s *Store) FeedbackEvents(_ context.Context, tenantID, customerID string) ([]domain.FeedbackEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cid, ok := parseID(customerID)
	fd := s.tenant(tenantID).feedbackOf(false)
	if !ok || fd == nil {
		return nil, nil
	}
	var out []domain.FeedbackEvent
	for _, f := range fd.byID {
		if f.CustomerID == cid {
			out = append(out, f.Events()...)
		}
	}
	slices.SortFunc(out, func(a, b domain.FeedbackEvent) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// OpenComplaints counts the unresolved complaints of the given customers
// (every customer when customerIDs is nil).
func (s *Store) OpenComplaints(_ context.Context, tenantID string, customerIDs []string) (map[string]int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int64{}
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil {
		return out, nil
	}
	var want map[string]bool
	if customerIDs != nil {
		want = map[string]bool{}
		for _, id := range customerIDs {
			if cid, ok := parseID(id); ok {
				want[cid] = true
			}
		}
	}
	for _, f := range fd.byID {
		if f.Kind == domain.FeedbackComplaint && f.Status.Unresolved() && (want == nil || want[f.CustomerID]) {
			out[f.CustomerID]++
		}
	}
	return out, nil
}

func cloneRule(r *domain.TopicRule) domain.TopicRule {
	out := *r
	out.Keywords = slices.Clone(r.Keywords)
	return out
}

func ruleNotFound(topic string) error {
	return fmt.Errorf("%w: topic rule %q", domain.ErrNotFound, topic)
}

// checkRule checks what a topic rule needs to be storable.
func checkRule(r *domain.TopicRule) error {
	if err := checkText(r.Topic); err != nil {
		return fieldError("topic", err)
	}
	if r.Topic == "" {
		return domain.Invalid("topic", "required")
	}
	for _, k := range r.Keywords {
		if err := checkText(k); err != nil {
			return fieldError("keywords", err)
		}
	}
	for _, x := range []struct {
		field string
		t     time.Time
	}{{"create_time", r.CreateTime}, {"update_time", r.UpdateTime}} {
		if err := checkTime(x.t); err != nil {
			return fieldError(x.field, err)
		}
	}
	return nil
}

// CreateTopicRule stores r; ErrConflict if the topic has a rule.
func (s *Store) CreateTopicRule(_ context.Context, r domain.TopicRule) (domain.TopicRule, error) {
	if err := checkRule(&r); err != nil {
		return domain.TopicRule{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(r.TenantID)
	if d == nil {
		return domain.TopicRule{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, r.TenantID)
	}
	fd := d.feedbackOf(true)
	if _, dup := fd.rules[r.Topic]; dup {
		return domain.TopicRule{}, fmt.Errorf("%w: a rule for topic %q exists", domain.ErrConflict, r.Topic)
	}
	stored := cloneRule(&r)
	stored.TenantID, _ = parseID(r.TenantID)
	stored.CreateTime, stored.UpdateTime, stored.Version = normTime(r.CreateTime), normTime(r.UpdateTime), 1
	fd.rules[r.Topic] = &stored
	return cloneRule(&stored), nil
}

// GetTopicRule returns the tenant's rule for topic.
func (s *Store) GetTopicRule(_ context.Context, tenantID, topic string) (domain.TopicRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil || fd.rules[topic] == nil {
		return domain.TopicRule{}, ruleNotFound(topic)
	}
	return cloneRule(fd.rules[topic]), nil
}

// ListTopicRules returns the tenant's rules by topic.
func (s *Store) ListTopicRules(_ context.Context, tenantID string) ([]domain.TopicRule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil {
		return nil, nil
	}
	var out []domain.TopicRule
	for _, r := range fd.rules {
		out = append(out, cloneRule(r))
	}
	slices.SortFunc(out, func(a, b domain.TopicRule) int { return strings.Compare(a.Topic, b.Topic) })
	return out, nil
}

// UpdateTopicRule replaces the keywords of rule r.Topic if it is at r.Version.
func (s *Store) UpdateTopicRule(_ context.Context, r domain.TopicRule) (domain.TopicRule, error) {
	if err := checkRule(&r); err != nil {
		return domain.TopicRule{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fd := s.tenant(r.TenantID).feedbackOf(false)
	if fd == nil || fd.rules[r.Topic] == nil {
		return domain.TopicRule{}, ruleNotFound(r.Topic)
	}
	cur := fd.rules[r.Topic]
	if cur.Version != r.Version {
		return domain.TopicRule{}, fmt.Errorf("%w: topic rule is at version %d, not %d", domain.ErrStale, cur.Version, r.Version)
	}
	cur.Keywords = slices.Clone(r.Keywords)
	cur.UpdateTime = normTime(r.UpdateTime)
	cur.Version++
	return cloneRule(cur), nil
}

// DeleteTopicRule deletes the tenant's rule for topic.
func (s *Store) DeleteTopicRule(_ context.Context, tenantID, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fd := s.tenant(tenantID).feedbackOf(false)
	if fd == nil || fd.rules[topic] == nil {
		return ruleNotFound(topic)
	}
	delete(fd.rules, topic)
	return nil
}
