package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// Feedback. Every operation is one round trip: the tenant setting and its
// statements go as one pipelined batch (an implicit transaction). A
// customer's feedback goes with it when it is erased: the foreign key
// cascades from customers to feedback and on to complaint_transitions.

// checkFeedback checks what submitted feedback needs to be storable: the
// same checks store/memory makes, with the same fields and errors; the
// table's CHECK constraints say the same again.
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

// scanFeedback reads a row of feedbackColumns of tenant's.
func scanFeedback(row pgx.Row, tenant string) (domain.Feedback, error) {
	f := domain.Feedback{TenantID: tenant}
	var kind, source, status string
	var score *int16
	var occurred, created, updated, resolved pgtype.Timestamptz
	err := row.Scan(&f.ID, &f.ExternalID, &f.CustomerID, &kind, &score, &f.Channel, &f.Topic, &source, &f.Text,
		&occurred, &created, &updated, &status, &resolved, &f.Version)
	if err != nil {
		return domain.Feedback{}, err
	}
	f.Kind, f.TopicSource, f.Status = domain.FeedbackKind(kind), domain.TopicSource(source), domain.ComplaintStatus(status)
	if score != nil {
		f.Score, f.HasScore = int(*score), true
	}
	f.Customer = domain.CustomerRef{ID: f.CustomerID}
	f.OccurredAt, f.CreateTime, f.UpdateTime, f.ResolveTime = goTime(occurred), goTime(created), goTime(updated), goTime(resolved)
	return f, nil
}

func collectFeedback(rows pgx.Rows, tenant string) ([]domain.Feedback, error) {
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Feedback, error) { return scanFeedback(row, tenant) })
	if len(fs) == 0 {
		fs = nil
	}
	return fs, err
}

// readTransitions reads rows of transitionColumns (ordered by feedback and
// seq) into the feedback they belong to.
func readTransitions(br pgx.BatchResults, fs []domain.Feedback) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	at := make(map[string]int, len(fs))
	for i := range fs {
		at[fs[i].ID] = i
	}
	var fid, from, to string
	var t domain.ComplaintTransition
	var when pgtype.Timestamptz
	_, err = pgx.ForEachRow(rows, []any{&fid, &t.Seq, &from, &to, &t.Note, &t.Actor, &t.RequestID, &when}, func() error {
		t.From, t.To, t.Time = domain.ComplaintStatus(from), domain.ComplaintStatus(to), goTime(when)
		if i, ok := at[fid]; ok {
			fs[i].Transitions = append(fs[i].Transitions, t)
		}
		return nil
	})
	return err
}

func feedbackNotFound(id string) error { return fmt.Errorf("%w: feedback %q", domain.ErrNotFound, id) }

// nullScore is a feedback's score column: NULL without a score.
func nullScore(f *domain.Feedback) *int16 {
	if !f.HasScore {
		return nil
	}
	s := int16(f.Score)
	return &s
}

// SubmitFeedback stores f unless the tenant has feedback with its external
// id, which it then returns unchanged.
func (s *Store) SubmitFeedback(ctx context.Context, f domain.Feedback) (domain.Feedback, bool, error) {
	if err := checkFeedback(&f); err != nil {
		return domain.Feedback{}, false, err
	}
	sc, ok := tenantScope(f.TenantID)
	if !ok {
		return domain.Feedback{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, f.TenantID)
	}
	id, _ := parseID(f.ID)
	cid, cidOK := parseID(f.CustomerID)
	if !cidOK {
		cid = "00000000-0000-0000-0000-000000000000" // names no customer
	}
	var out domain.Feedback
	var created bool
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSubmitFeedback, sc.tenant, id, f.ExternalID, cid, string(f.Kind), nullScore(&f), f.Channel, f.Topic,
			string(f.TopicSource), f.Text, sortTime(f.OccurredAt), sortTime(f.CreateTime), sortTime(f.UpdateTime),
			string(f.Status), nullTime(f.ResolveTime))
		b.Queue(qFeedbackByExternal, sc.tenant, f.ExternalID)
		b.Queue(qTransitionsByFeedbackExternal, sc.tenant, f.ExternalID)
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanFeedback(br.QueryRow(), sc.tenant)
		switch {
		case err == nil:
			created = true
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if out, err = scanFeedback(br.QueryRow(), sc.tenant); errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: customer %q", domain.ErrNotFound, f.CustomerID)
		} else if err != nil {
			return err
		}
		fs := []domain.Feedback{out}
		err = readTransitions(br, fs)
		out = fs[0]
		return err
	})
	if err != nil {
		return domain.Feedback{}, false, err
	}
	return out, created, nil
}

// GetFeedback returns feedback by id, with its transitions.
func (s *Store) GetFeedback(ctx context.Context, tenantID, id string) (domain.Feedback, error) {
	sc, ok := tenantScope(tenantID)
	fid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.Feedback{}, feedbackNotFound(id)
	}
	var out domain.Feedback
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetFeedback, sc.tenant, fid)
		b.Queue(qTransitionsOf, sc.tenant, []string{fid})
	}, func(br pgx.BatchResults) error {
		f, err := scanFeedback(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return feedbackNotFound(id)
		} else if err != nil {
			return err
		}
		fs := []domain.Feedback{f}
		err = readTransitions(br, fs)
		out = fs[0]
		return err
	})
	return out, err
}

// maxUUID sorts after every id: the keyset of a first page.
const maxUUID = "ffffffff-ffff-ffff-ffff-ffffffffffff"

// ListFeedback returns up to q.Limit feedback matching q, newest first,
// strictly after q.After: one range scan of feedback_customer or
// feedback_occurred, then the page's transitions.
func (s *Store) ListFeedback(ctx context.Context, tenantID string, q domain.FeedbackQuery) ([]domain.Feedback, error) {
	if q.Limit <= 0 {
		return nil, domain.Invalid("page_size", "must be positive")
	}
	afterAt := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	afterID := maxUUID
	if q.After != nil {
		t, ok := q.After.Value.(time.Time)
		id, idOK := parseID(q.After.ID)
		if !ok || !idOK || checkTime(t) != nil {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
		afterAt, afterID = sortTime(normTime(t)), id
	}
	for _, x := range []struct {
		field string
		t     time.Time
	}{{"start_time", q.From}, {"end_time", q.To}} {
		if err := checkTime(x.t); err != nil {
			return nil, fieldError(x.field, err)
		}
	}
	if err := checkText(q.Topic); err != nil {
		return nil, fieldError("topic", err)
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	from := sortTime(normTime(q.From))
	to := pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}
	if !q.To.IsZero() {
		to = sortTime(normTime(q.To))
	}
	kinds := make([]string, len(q.Kinds))
	for i, k := range q.Kinds {
		kinds[i] = string(k)
	}
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	sql, args := qListFeedback, []any{sc.tenant, kinds, statuses, q.Topic, from, to, afterAt, afterID, int64(q.Limit)}
	if q.CustomerID != "" {
		cid, ok := parseID(q.CustomerID)
		if !ok {
			return nil, nil
		}
		sql, args = qListFeedbackOfCustomer, []any{sc.tenant, cid, kinds, statuses, q.Topic, from, to, afterAt, afterID, int64(q.Limit)}
	}
	for _, k := range kinds {
		if err := checkText(k); err != nil {
			return nil, fieldError("kinds", err)
		}
	}
	for _, st := range statuses {
		if err := checkText(st); err != nil {
			return nil, fieldError("statuses", err)
		}
	}
	var out []domain.Feedback
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = collectFeedback(rows, sc.tenant)
		return err
	}, func(tx pgx.Tx) error {
		if len(out) == 0 {
			return nil
		}
		ids := make([]string, len(out))
		for i := range out {
			ids[i] = out[i].ID
		}
		b := &pgx.Batch{}
		b.Queue(qTransitionsOf, sc.tenant, ids)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if err := readTransitions(br, out); err != nil {
			return err
		}
		return br.Close()
	})
	return out, err
}

// AppendTransition records transition t of complaint id if it is at version.
func (s *Store) AppendTransition(ctx context.Context, tenantID, id string, version int64, t domain.ComplaintTransition) (domain.Feedback, error) {
	if err := checkTransition(&t); err != nil {
		return domain.Feedback{}, err
	}
	sc, ok := tenantScope(tenantID)
	fid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.Feedback{}, feedbackNotFound(id)
	}
	at := normTime(t.Time)
	resolved := pgtype.Timestamptz{}
	if t.To.Resolved() {
		resolved = sortTime(at)
	}
	var out domain.Feedback
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qAppendTransition, sc.tenant, fid, version, string(t.To), resolved, sortTime(at), t.Seq, string(t.From), t.Note, t.Actor, t.RequestID)
		b.Queue(qGetFeedback, sc.tenant, fid)
		b.Queue(qTransitionsOf, sc.tenant, []string{fid})
	}, func(br pgx.BatchResults) error {
		var seq int
		moved := true
		if err := br.QueryRow().Scan(&seq); errors.Is(err, pgx.ErrNoRows) {
			moved = false
		} else if err != nil {
			return err
		}
		f, err := scanFeedback(br.QueryRow(), sc.tenant)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return feedbackNotFound(id)
		case err != nil:
			return err
		case !moved && f.Kind != domain.FeedbackComplaint:
			return domain.Invalid("id", "feedback %s is not a complaint", f.ID)
		case !moved:
			return fmt.Errorf("%w: feedback is at version %d, not %d", domain.ErrStale, f.Version, version)
		}
		fs := []domain.Feedback{f}
		err = readTransitions(br, fs)
		out = fs[0]
		return err
	})
	return out, err
}

// FeedbackFacts returns the facts of feedback that occurred or was resolved
// in [q.From, q.To).
func (s *Store) FeedbackFacts(ctx context.Context, tenantID string, q domain.FeedbackFactQuery) ([]domain.FeedbackFact, error) {
	for _, x := range []struct {
		field string
		t     time.Time
	}{{"start_time", q.From}, {"end_time", q.To}} {
		if err := checkTime(x.t); err != nil {
			return nil, fieldError(x.field, err)
		}
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	sql, args := qFeedbackFacts, []any{sc.tenant, sortTime(normTime(q.From)), sortTime(normTime(q.To))}
	if q.CustomerIDs != nil {
		ids := make([]string, 0, len(q.CustomerIDs))
		for _, id := range q.CustomerIDs {
			if cid, ok := parseID(id); ok {
				ids = append(ids, cid)
			}
		}
		sql, args = qFeedbackFactsOf, append(args, ids)
	}
	var out []domain.FeedbackFact
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		out = nil // a retried attempt starts again
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var f domain.FeedbackFact
		var kind, status string
		var occurred, resolved pgtype.Timestamptz
		_, err = pgx.ForEachRow(rows, []any{&f.CustomerID, &kind, &f.Score, &f.Topic, &status, &occurred, &resolved}, func() error {
			f.Kind, f.Status, f.OccurredAt, f.ResolveTime = domain.FeedbackKind(kind), domain.ComplaintStatus(status), goTime(occurred), goTime(resolved)
			out = append(out, f)
			return nil
		})
		return err
	})
	return out, err
}

// FeedbackEvents returns the scoring events of a customer's feedback,
// oldest first, then by id.
func (s *Store) FeedbackEvents(ctx context.Context, tenantID, customerID string) ([]domain.FeedbackEvent, error) {
	sc, ok := tenantScope(tenantID)
	cid, idOK := parseID(customerID)
	if !ok || !idOK {
		return nil, nil
	}
	var out []domain.FeedbackEvent
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qFeedbackOfCustomer, sc.tenant, cid)
		b.Queue(qTransitionsOfCustomer, sc.tenant, cid)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		fs, err := collectFeedback(rows, sc.tenant)
		if err != nil {
			return err
		}
		if err := readTransitions(br, fs); err != nil {
			return err
		}
		out = nil
		for i := range fs {
			out = append(out, fs[i].Events()...)
		}
		return nil
	})
	slices.SortFunc(out, func(a, b domain.FeedbackEvent) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, err
}

// OpenComplaints counts the unresolved complaints of the given customers
// (every customer when customerIDs is nil).
func (s *Store) OpenComplaints(ctx context.Context, tenantID string, customerIDs []string) (map[string]int64, error) {
	out := map[string]int64{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	sql, args := qOpenComplaints, []any{sc.tenant}
	if customerIDs != nil {
		ids := make([]string, 0, len(customerIDs))
		for _, id := range customerIDs {
			if cid, ok := parseID(id); ok {
				ids = append(ids, cid)
			}
		}
		sql, args = qOpenComplaintsOf, append(args, ids)
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		clear(out)
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var id string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			out[id] = n
			return nil
		})
		return err
	})
	return out, err
}

// scanTopicRule reads a row of topicRuleColumns.
func scanTopicRule(row pgx.Row, tenant string) (domain.TopicRule, error) {
	r := domain.TopicRule{TenantID: tenant}
	var created, updated pgtype.Timestamptz
	if err := row.Scan(&r.Topic, &r.Keywords, &created, &updated, &r.Version); err != nil {
		return domain.TopicRule{}, err
	}
	if len(r.Keywords) == 0 {
		r.Keywords = nil
	}
	r.CreateTime, r.UpdateTime = goTime(created), goTime(updated)
	return r, nil
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

func keywordsArg(ks []string) []string {
	if ks == nil {
		return []string{}
	}
	return ks
}

// CreateTopicRule stores r; ErrConflict if the topic has a rule.
func (s *Store) CreateTopicRule(ctx context.Context, r domain.TopicRule) (domain.TopicRule, error) {
	if err := checkRule(&r); err != nil {
		return domain.TopicRule{}, err
	}
	sc, ok := tenantScope(r.TenantID)
	if !ok {
		return domain.TopicRule{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, r.TenantID)
	}
	var out domain.TopicRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateTopicRule, sc.tenant, r.Topic, keywordsArg(r.Keywords), sortTime(normTime(r.CreateTime)), sortTime(normTime(r.UpdateTime)))
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanTopicRule(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: a rule for topic %q exists", domain.ErrConflict, r.Topic)
		}
		return err
	})
	return out, err
}

// GetTopicRule returns the tenant's rule for topic.
func (s *Store) GetTopicRule(ctx context.Context, tenantID, topic string) (domain.TopicRule, error) {
	sc, ok := tenantScope(tenantID)
	if !ok || checkText(topic) != nil {
		return domain.TopicRule{}, ruleNotFound(topic)
	}
	var out domain.TopicRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetTopicRule, sc.tenant, topic)
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanTopicRule(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return ruleNotFound(topic)
		}
		return err
	})
	return out, err
}

// ListTopicRules returns the tenant's rules by topic.
func (s *Store) ListTopicRules(ctx context.Context, tenantID string) ([]domain.TopicRule, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.TopicRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListTopicRules, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.TopicRule, error) { return scanTopicRule(row, sc.tenant) })
		if len(out) == 0 {
			out = nil
		}
		return err
	})
	return out, err
}

// UpdateTopicRule replaces the keywords of rule r.Topic if it is at r.Version.
func (s *Store) UpdateTopicRule(ctx context.Context, r domain.TopicRule) (domain.TopicRule, error) {
	if err := checkRule(&r); err != nil {
		return domain.TopicRule{}, err
	}
	sc, ok := tenantScope(r.TenantID)
	if !ok {
		return domain.TopicRule{}, ruleNotFound(r.Topic)
	}
	var out domain.TopicRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qUpdateTopicRule, sc.tenant, r.Topic, keywordsArg(r.Keywords), sortTime(normTime(r.UpdateTime)), r.Version)
		b.Queue(qTopicRuleVersion, sc.tenant, r.Topic)
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanTopicRule(br.QueryRow(), sc.tenant)
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var version int64
		switch err := br.QueryRow().Scan(&version); {
		case errors.Is(err, pgx.ErrNoRows):
			return ruleNotFound(r.Topic)
		case err != nil:
			return err
		}
		return fmt.Errorf("%w: topic rule is at version %d, not %d", domain.ErrStale, version, r.Version)
	})
	return out, err
}

// DeleteTopicRule deletes the tenant's rule for topic.
func (s *Store) DeleteTopicRule(ctx context.Context, tenantID, topic string) error {
	sc, ok := tenantScope(tenantID)
	if !ok || checkText(topic) != nil {
		return ruleNotFound(topic)
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteTopicRule, sc.tenant, topic)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.RowsAffected() == 0 {
			return ruleNotFound(topic)
		}
		return err
	})
}
