package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// Scoring and grading (domain.ScoringStore). Rule changes lock their
// model's row (qBumpRevision), so they apply one at a time per model.
// UpdateScoring runs one transaction per batch of customers: the first
// round trip locks the customers and reads everything the domain needs
// (rules, policy, customers, events, ledgers, grades); the domain computes;
// the second round trip writes the ledger rows that changed, the grades and
// the grade changes; then COMMIT.

func scoringModelNotFound(id string) error {
	return fmt.Errorf("%w: scoring model %q", domain.ErrNotFound, id)
}

func scoringRuleNotFound(id string) error {
	return fmt.Errorf("%w: scoring rule %q", domain.ErrNotFound, id)
}

func scanScoringModel(row pgx.Row) (domain.ScoringModel, error) {
	var m domain.ScoringModel
	err := row.Scan(&m.ID, &m.Name, &m.Description, &m.Revision, &m.ScoredRevision, &m.CreateTime)
	m.CreateTime = m.CreateTime.UTC()
	return m, err
}

// CreateScoringModel stores m; ErrConflict if its name is taken.
func (s *Store) CreateScoringModel(ctx context.Context, m domain.ScoringModel) (domain.ScoringModel, error) {
	id, ok := parseID(m.ID)
	if !ok {
		return domain.ScoringModel{}, domain.Invalid("id", "must be a UUID")
	}
	for _, f := range []struct{ field, s string }{{"display_name", m.Name}, {"description", m.Description}} {
		if err := checkText(f.s); err != nil {
			return domain.ScoringModel{}, fieldError(f.field, err)
		}
	}
	if err := checkTime(m.CreateTime); err != nil {
		return domain.ScoringModel{}, fieldError("create_time", err)
	}
	sc, ok := tenantScope(m.TenantID)
	if !ok {
		return domain.ScoringModel{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, m.TenantID)
	}
	var out domain.ScoringModel
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateScoringModel, sc.tenant, id, m.Name, m.Description, sortTime(m.CreateTime))
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanScoringModel(br.QueryRow())
		return err
	})
	out.TenantID = sc.tenant
	return out, err
}

// GetScoringModel returns a model by id.
func (s *Store) GetScoringModel(ctx context.Context, tenantID, id string) (domain.ScoringModel, error) {
	sc, ok := tenantScope(tenantID)
	mid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.ScoringModel{}, scoringModelNotFound(id)
	}
	var out domain.ScoringModel
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetScoringModel, sc.tenant, mid)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanScoringModel(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.ScoringModel{}, scoringModelNotFound(id)
	}
	out.TenantID = sc.tenant
	return out, err
}

// ListScoringModels returns the tenant's models by name.
func (s *Store) ListScoringModels(ctx context.Context, tenantID string) ([]domain.ScoringModel, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var out []domain.ScoringModel
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListScoringModels, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.ScoringModel, error) {
			m, err := scanScoringModel(row)
			m.TenantID = sc.tenant
			return m, err
		})
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// DeleteScoringModel deletes a model with its ledger rows, rules and versions.
func (s *Store) DeleteScoringModel(ctx context.Context, tenantID, id string) error {
	sc, ok := tenantScope(tenantID)
	mid, idOK := parseID(id)
	if !ok || !idOK {
		return scoringModelNotFound(id)
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qDeleteModelLedger, sc.tenant, mid)
		b.Queue(qDeleteScoringModel, sc.tenant, mid)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		tag, err := br.Exec()
		if err == nil && tag.RowsAffected() == 0 {
			return scoringModelNotFound(id)
		}
		return err
	})
}

// MarkScored raises the model's scored revision to revision.
func (s *Store) MarkScored(ctx context.Context, tenantID, modelID string, revision int64) error {
	sc, ok := tenantScope(tenantID)
	mid, idOK := parseID(modelID)
	if !ok || !idOK {
		return scoringModelNotFound(modelID)
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qMarkScored, sc.tenant, mid, revision)
	}, func(br pgx.BatchResults) error {
		var id string
		return br.QueryRow().Scan(&id)
	})
	if errors.Is(err, domain.ErrNotFound) {
		return scoringModelNotFound(modelID)
	}
	return err
}

// validityMicros is a rule's validity column: NULL without one.
func validityMicros(r *domain.ScoringRule) *int64 {
	if !r.HasValidity {
		return nil
	}
	us := r.Validity.Microseconds()
	return &us
}

// scoringRuleArgs are a rule's columns $2..$13 (scoringRuleColumns).
func scoringRuleArgs(r *domain.ScoringRule, id, model string) []any {
	return []any{id, model, r.Name, r.Description, string(r.EventKind), r.Condition, r.Points, validityMicros(r), r.Cap,
		r.Version, sortTime(r.CreateTime), sortTime(r.UpdateTime)}
}

func scanScoringRule(row pgx.Row, deleted bool) (domain.ScoringRule, error) {
	var r domain.ScoringRule
	var kind string
	var validity *int64
	var deleteTime pgtype.Timestamptz
	dest := []any{&r.ID, &r.ModelID, &r.Name, &r.Description, &kind, &r.Condition, &r.Points, &validity, &r.Cap, &r.Version, &r.CreateTime, &r.UpdateTime}
	if deleted {
		dest = append(dest, &deleteTime)
	}
	if err := row.Scan(dest...); err != nil {
		return domain.ScoringRule{}, err
	}
	r.EventKind = domain.EventKind(kind)
	if validity != nil {
		r.HasValidity, r.Validity = true, time.Duration(*validity)*time.Microsecond
	}
	r.CreateTime, r.UpdateTime, r.DeleteTime = r.CreateTime.UTC(), r.UpdateTime.UTC(), goTime(deleteTime)
	return r, nil
}

func collectScoringRules(rows pgx.Rows, tenant string) ([]domain.ScoringRule, error) {
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.ScoringRule, error) {
		r, err := scanScoringRule(row, false)
		r.TenantID = tenant
		return r, err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// checkScoringRule checks what a rule needs to be storable.
func checkScoringRule(r *domain.ScoringRule) error {
	for _, f := range []struct{ field, s string }{{"display_name", r.Name}, {"description", r.Description}, {"event_kind", string(r.EventKind)}, {"condition", r.Condition}} {
		if err := checkText(f.s); err != nil {
			return fieldError("rule."+f.field, err)
		}
	}
	for _, f := range []struct {
		field string
		t     time.Time
	}{{"create_time", r.CreateTime}, {"update_time", r.UpdateTime}} {
		if err := checkTime(f.t); err != nil {
			return fieldError("rule."+f.field, err)
		}
	}
	return nil
}

// CreateScoringRule stores r (Version 1) and increments its model's revision.
func (s *Store) CreateScoringRule(ctx context.Context, r domain.ScoringRule) (domain.ScoringRule, int64, error) {
	id, ok := parseID(r.ID)
	if !ok {
		return domain.ScoringRule{}, 0, domain.Invalid("rule.id", "must be a UUID")
	}
	if err := checkScoringRule(&r); err != nil {
		return domain.ScoringRule{}, 0, err
	}
	sc, ok := tenantScope(r.TenantID)
	mid, midOK := parseID(r.ModelID)
	if !ok || !midOK {
		return domain.ScoringRule{}, 0, scoringModelNotFound(r.ModelID)
	}
	r.ID, r.TenantID, r.ModelID, r.Version, r.DeleteTime = id, sc.tenant, mid, 1, time.Time{}
	r.CreateTime, r.UpdateTime, r.Validity = normTime(r.CreateTime), normTime(r.UpdateTime), r.Validity.Truncate(time.Microsecond)
	var rev int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qBumpRevision, sc.tenant, mid)
	}, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(&rev)
		if errors.Is(err, pgx.ErrNoRows) {
			return scoringModelNotFound(r.ModelID)
		}
		return err
	}, func(tx pgx.Tx) error {
		args := append([]any{sc.tenant}, scoringRuleArgs(&r, id, mid)...)
		b := &pgx.Batch{}
		b.Queue(qInsertScoringRule, args...)
		b.Queue(qInsertScoringRuleVersion, append(args, nil)...)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return domain.ScoringRule{}, 0, err
	}
	return r, rev, nil
}

// UpdateScoringRule replaces rule r.ID if it is at r.Version.
func (s *Store) UpdateScoringRule(ctx context.Context, r domain.ScoringRule) (domain.ScoringRule, int64, error) {
	if err := checkScoringRule(&r); err != nil {
		return domain.ScoringRule{}, 0, err
	}
	sc, ok := tenantScope(r.TenantID)
	rid, idOK := parseID(r.ID)
	if !ok || !idOK {
		return domain.ScoringRule{}, 0, scoringRuleNotFound(r.ID)
	}
	var cur, next domain.ScoringRule
	var rev int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockScoringRule, sc.tenant, rid)
	}, func(br pgx.BatchResults) (err error) {
		cur, err = scanScoringRule(br.QueryRow(), false)
		if errors.Is(err, pgx.ErrNoRows) {
			return scoringRuleNotFound(r.ID)
		}
		return err
	}, func(tx pgx.Tx) error {
		if cur.Version != r.Version {
			return fmt.Errorf("%w: rule is at version %d, not %d", domain.ErrStale, cur.Version, r.Version)
		}
		next = r
		next.ID, next.TenantID, next.ModelID, next.CreateTime, next.DeleteTime = cur.ID, sc.tenant, cur.ModelID, cur.CreateTime, time.Time{}
		next.Version, next.UpdateTime, next.Validity = cur.Version+1, normTime(r.UpdateTime), r.Validity.Truncate(time.Microsecond)
		if !next.HasValidity {
			next.Validity = 0
		}
		b := &pgx.Batch{}
		b.Queue(qBumpRevision, sc.tenant, cur.ModelID)
		b.Queue(qUpdateScoringRule, sc.tenant, rid, next.Name, next.Description, string(next.EventKind), next.Condition,
			next.Points, validityMicros(&next), next.Cap, next.Version, sortTime(next.UpdateTime))
		b.Queue(qInsertScoringRuleVersion, append(append([]any{sc.tenant}, scoringRuleArgs(&next, rid, cur.ModelID)...), nil)...)
		br := tx.SendBatch(ctx, b)
		err := br.QueryRow().Scan(&rev)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return domain.ScoringRule{}, 0, err
	}
	return next, rev, nil
}

// DeleteScoringRule deletes rule id if it is at version (0: any).
func (s *Store) DeleteScoringRule(ctx context.Context, tenantID, id string, version int64, at time.Time) (domain.ScoringRule, int64, error) {
	if err := checkTime(at); err != nil {
		return domain.ScoringRule{}, 0, fieldError("delete_time", err)
	}
	sc, ok := tenantScope(tenantID)
	rid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.ScoringRule{}, 0, scoringRuleNotFound(id)
	}
	var cur domain.ScoringRule
	var rev int64
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockScoringRule, sc.tenant, rid)
	}, func(br pgx.BatchResults) (err error) {
		cur, err = scanScoringRule(br.QueryRow(), false)
		if errors.Is(err, pgx.ErrNoRows) {
			return scoringRuleNotFound(id)
		}
		return err
	}, func(tx pgx.Tx) error {
		if version != 0 && cur.Version != version {
			return fmt.Errorf("%w: rule is at version %d, not %d", domain.ErrStale, cur.Version, version)
		}
		tomb := cur
		tomb.Version, tomb.UpdateTime = cur.Version+1, normTime(at)
		b := &pgx.Batch{}
		b.Queue(qBumpRevision, sc.tenant, cur.ModelID)
		b.Queue(qDeleteScoringRule, sc.tenant, rid)
		b.Queue(qInsertScoringRuleVersion, append(append([]any{sc.tenant}, scoringRuleArgs(&tomb, rid, cur.ModelID)...), sortTime(tomb.UpdateTime))...)
		br := tx.SendBatch(ctx, b)
		err := br.QueryRow().Scan(&rev)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return domain.ScoringRule{}, 0, err
	}
	cur.TenantID = sc.tenant
	return cur, rev, nil
}

// GetScoringRule returns a rule's current version.
func (s *Store) GetScoringRule(ctx context.Context, tenantID, id string) (domain.ScoringRule, error) {
	sc, ok := tenantScope(tenantID)
	rid, idOK := parseID(id)
	if !ok || !idOK {
		return domain.ScoringRule{}, scoringRuleNotFound(id)
	}
	var out domain.ScoringRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetScoringRule, sc.tenant, rid)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanScoringRule(br.QueryRow(), false)
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.ScoringRule{}, scoringRuleNotFound(id)
	}
	out.TenantID = sc.tenant
	return out, err
}

// ScoringRuleVersions returns every version of a rule, oldest first.
func (s *Store) ScoringRuleVersions(ctx context.Context, tenantID, id string) ([]domain.ScoringRule, error) {
	sc, ok := tenantScope(tenantID)
	rid, idOK := parseID(id)
	if !ok || !idOK {
		return nil, scoringRuleNotFound(id)
	}
	var out []domain.ScoringRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qScoringRuleVersions, sc.tenant, rid)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.ScoringRule, error) {
			r, err := scanScoringRule(row, true)
			r.TenantID = sc.tenant
			return r, err
		})
		return err
	})
	if err == nil && len(out) == 0 {
		return nil, scoringRuleNotFound(id)
	}
	return out, err
}

// ListScoringRules returns current rules by model, creation time, id.
func (s *Store) ListScoringRules(ctx context.Context, tenantID, modelID string) ([]domain.ScoringRule, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	var model *string
	if modelID != "" {
		mid, ok := parseID(modelID)
		if !ok {
			return nil, nil
		}
		model = &mid
	}
	var out []domain.ScoringRule
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qListScoringRules, sc.tenant, model)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = collectScoringRules(rows, sc.tenant)
		return err
	})
	return out, err
}

// deleteScoringStatements is the number of statements queueDeleteScoring queues.
const deleteScoringStatements = 3

// queueDeleteScoring queues the erasure of what scoring keeps about a
// customer that has no foreign key to it: its ledger, grade and grade
// changes (DeleteCustomer).
func queueDeleteScoring(b *pgx.Batch, tenant, customerID string) {
	b.Queue(qDeleteCustomerLedger, tenant, customerID)
	b.Queue(qDeleteCustomerGrade, tenant, customerID)
	b.Queue(qDeleteCustomerGradeChanges, tenant, customerID)
}

// scoringWorkers is how many batches of an All run are in flight at once.
func scoringWorkers() int { return min(4, max(2, runtime.GOMAXPROCS(0))) }

// ReadScoring reads the batches of q, each in one round trip.
func (s *Store) ReadScoring(ctx context.Context, tenantID string, q domain.ScoringQuery, fn func(*domain.ScoringBatch) error) error {
	return s.scoringRun(ctx, tenantID, q, func(sc scope, ids []string, ranged bool) error {
		var b *domain.ScoringBatch
		err := s.batch(ctx, sc, func(pb *pgx.Batch) {
			queueScoringReads(pb, sc.tenant, ids, q.Events, ranged)
		}, func(br pgx.BatchResults) (err error) {
			b, err = readScoringBatch(br, sc.tenant, q.Events)
			return err
		})
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// UpdateScoring runs one transaction per batch of q: lock and read, fn,
// write. An error of fn is returned as it is.
func (s *Store) UpdateScoring(ctx context.Context, tenantID string, q domain.ScoringQuery, fn func(*domain.ScoringBatch) ([]domain.ScoringUpdate, error)) error {
	return s.scoringRun(ctx, tenantID, q, func(sc scope, ids []string, ranged bool) error {
		var b *domain.ScoringBatch
		var fnErr error
		first, last := batchBounds(ids, ranged)
		err := s.tx(ctx, sc, func(pb *pgx.Batch) {
			// A custom plan for the lock too: its ids are then a constant
			// array, which a filter looks up by hash instead of comparing
			// every row of the id range with every id of the batch.
			pb.Queue(qCustomPlans)
			pb.Queue(qLockScoringCustomers, sc.tenant, ids, first, last)
			queueScoringReads(pb, sc.tenant, ids, q.Events, ranged)
		}, func(br pgx.BatchResults) (err error) {
			for range 2 { // qCustomPlans, qLockScoringCustomers
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			b, err = readScoringBatch(br, sc.tenant, q.Events)
			return err
		}, func(tx pgx.Tx) error {
			ups, err := fn(b)
			if fnErr = err; err != nil {
				return err
			}
			w, err := planScoringWrites(sc.tenant, b, ups)
			if err != nil || w.empty() {
				return err
			}
			if !ranged {
				w.first, w.last = nil, nil
			}
			pb := &pgx.Batch{}
			w.queue(pb, sc.tenant)
			return tx.SendBatch(ctx, pb).Close()
		})
		if fnErr != nil {
			return fnErr
		}
		return err
	})
}

// scoringRun calls step with the canonical ids of each batch of q: the
// listed customers, or every customer of the tenant in id order, several
// batches at a time.
func (s *Store) scoringRun(ctx context.Context, tenantID string, q domain.ScoringQuery, step func(sc scope, ids []string, ranged bool) error) error {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil
	}
	if !q.All {
		ids := make([]string, 0, len(q.CustomerIDs))
		for _, id := range q.CustomerIDs {
			if cid, ok := parseID(id); ok {
				ids = append(ids, cid)
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for start := 0; start < len(ids); start += domain.ScoringBatchSize {
			if err := step(sc, ids[start:min(start+domain.ScoringBatchSize, len(ids))], false); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []string, scoringWorkers())
	var wg sync.WaitGroup
	for range scoringWorkers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ids := range batches {
				if ctx.Err() != nil {
					continue
				}
				if err := step(sc, ids, true); err != nil {
					cancel(err)
				}
			}
		}()
	}
	err := s.pageCustomerIDs(ctx, sc, func(ids []string) error {
		select {
		case batches <- ids:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(batches)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && (err == nil || errors.Is(err, cause)) {
		err = cause
	}
	return err
}

// pageCustomerIDs hands fn the tenant's customer ids, ScoringBatchSize at a
// time, in id order.
func (s *Store) pageCustomerIDs(ctx context.Context, sc scope, fn func([]string) error) error {
	after := "00000000-0000-0000-0000-000000000000" // below every id but itself, which NewID never makes
	for {
		var ids []string
		err := s.batch(ctx, sc, func(b *pgx.Batch) {
			b.Queue(qListCustomerIDs, sc.tenant, after, domain.ScoringBatchSize)
		}, func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if err := fn(ids); err != nil {
			return err
		}
		if len(ids) < domain.ScoringBatchSize {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// queueScoringReads queues the reads of a batch: rules, policy, customers,
// events (when asked: those of qScoringEvents, and feedback with its
// complaint transitions), ledgers, grades.
//
// ids are sorted. When ranged, every statement also bounds the customer
// ids by the first and the last, so that a batch of a whole-tenant run (ids
// consecutive in the tenant) reads one contiguous range of each index,
// whatever the planner estimates for a list of a thousand ids. A listed
// batch (the customers of recorded events, spread over the whole tenant)
// is not bounded: its range would be the tenant, and a plan that scans it
// with the list as a filter reads every event of the tenant for each
// batch. Custom plans fold the NULL bounds away.
func queueScoringReads(b *pgx.Batch, tenant string, ids []string, events, ranged bool) {
	first, last := batchBounds(ids, ranged)
	b.Queue(qCustomPlans)
	b.Queue(qAllScoringRules, tenant)
	b.Queue(qCurrentGradingPolicy, tenant)
	b.Queue(qScoringCustomers, tenant, ids, first, last)
	if events {
		if ranged {
			b.Queue(qScoringEvents, tenant, ids, first, last)
		} else {
			b.Queue(qScoringEventsListed, tenant, ids)
		}
		b.Queue(qScoringFeedback, tenant, ids, first, last)
		b.Queue(qScoringTransitions, tenant, ids, first, last)
	}
	if ranged {
		b.Queue(qScoringLedger, tenant, ids, first, last)
	} else {
		b.Queue(qScoringLedgerListed, tenant, ids)
	}
	b.Queue(qScoringGrades, tenant, ids, first, last)
	b.Queue(qScoringLeadScores, tenant, ids, first, last)
}

// batchBounds returns the bounds of the statements of a batch: its first
// and last id when ranged, else NULLs.
func batchBounds(ids []string, ranged bool) (first, last any) {
	if !ranged || len(ids) == 0 {
		return nil, nil
	}
	return ids[0], ids[len(ids)-1]
}

// readScoringBatch reads what queueScoringReads queued.
func readScoringBatch(br pgx.BatchResults, tenant string, events bool) (*domain.ScoringBatch, error) {
	b := &domain.ScoringBatch{}
	if _, err := br.Exec(); err != nil { // qCustomPlans
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	if b.Rules, err = collectScoringRules(rows, tenant); err != nil {
		return nil, err
	}
	switch p, err := scanGradingPolicy(br.QueryRow(), tenant); {
	case err == nil:
		b.Policy, b.HasPolicy = p, true
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	cs, err := collectCustomers(rows)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(cs, func(a, b domain.Customer) int { return compareStrings(a.ID, b.ID) })
	index := make(map[string]int, len(cs))
	b.Customers = make([]domain.ScoringInput, len(cs))
	for i := range cs {
		b.Customers[i].Customer = cs[i]
		index[cs[i].ID] = i
	}
	if events {
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		var e domain.ScoringEvent
		var cid, kind string
		var amount, margin int64
		_, err = pgx.ForEachRow(rows, []any{&cid, &kind, &e.ID, &e.Ref, &e.At, &amount, &margin, &e.Quantity, &e.Channel, &e.Direction, &e.Topic, &e.Rating}, func() error {
			if i, ok := index[cid]; ok {
				ev := e
				ev.Kind, ev.Amount, ev.Margin, ev.At = domain.EventKind(kind), domain.Money(amount), domain.Money(margin), e.At.UTC()
				b.Customers[i].Events = append(b.Customers[i].Events, ev)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		rows, err = br.Query()
		if err != nil {
			return nil, err
		}
		fs, err := collectFeedback(rows, tenant)
		if err != nil {
			return nil, err
		}
		if err := readTransitions(br, fs); err != nil {
			return nil, err
		}
		for j := range fs {
			if i, ok := index[fs[j].CustomerID]; ok {
				b.Customers[i].Events = append(b.Customers[i].Events, domain.FeedbackScoringEvents(&fs[j])...)
			}
		}
		for i := range b.Customers {
			domain.SortScoringEvents(b.Customers[i].Events)
		}
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	err = forEachLedgerRow(rows, func(e domain.LedgerEntry) {
		if i, ok := index[e.CustomerID]; ok {
			b.Customers[i].Ledger = append(b.Customers[i].Ledger, e)
		}
	})
	if err != nil {
		return nil, err
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	err = forEachGradeRow(rows, func(g domain.CustomerGrade) {
		if i, ok := index[g.CustomerID]; ok {
			b.Customers[i].Grade = g
		}
	})
	if err != nil {
		return nil, err
	}
	rows, err = br.Query()
	if err != nil {
		return nil, err
	}
	var ls domain.LeadScore
	var band string
	_, err = pgx.ForEachRow(rows, []any{&ls.CustomerID, &ls.ScoringModelID, &ls.Probability, &band, &ls.FitID, &ls.At}, func() error {
		if i, ok := index[ls.CustomerID]; ok {
			sc := ls
			sc.Band, sc.At = domain.ConversionBand(band), ls.At.UTC()
			b.Customers[i].LeadScores = append(b.Customers[i].LeadScores, sc)
		}
		return nil
	})
	return b, err
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func forEachLedgerRow(rows pgx.Rows, fn func(domain.LedgerEntry)) error {
	var e domain.LedgerEntry
	var kind string
	var expires pgtype.Timestamptz
	_, err := pgx.ForEachRow(rows, []any{&e.CustomerID, &e.ModelID, &e.ID, &e.RuleID, &e.RuleVersion, &kind, &e.EventID, &e.EventRef, &e.Points, &e.AwardedAt, &expires, &e.Capped}, func() error {
		out := e
		out.EventKind, out.AwardedAt, out.ExpiresAt = domain.EventKind(kind), e.AwardedAt.UTC(), goTime(expires)
		fn(out)
		return nil
	})
	return err
}

func forEachGradeRow(rows pgx.Rows, fn func(domain.CustomerGrade)) error {
	var g domain.CustomerGrade
	_, err := pgx.ForEachRow(rows, []any{&g.CustomerID, &g.Grade, &g.Rank, &g.Composite, &g.Value, &g.Engagement, &g.Fit, &g.PolicyVersion, &g.GradeTime}, func() error {
		out := g
		out.GradeTime = g.GradeTime.UTC()
		fn(out)
		return nil
	})
	return err
}

// scoringWrites are the rows one batch writes, one array per column.
type scoringWrites struct {
	first, last                     any // the batch's first and last customer id; nil when not ranged
	delCustomers, delModels, delIDs []string

	insCustomers, insModels, insIDs, insRules []string
	insVersions, insPoints                    []int64
	insKinds, insEvents, insRefs              []string
	insAwarded, insExpires                    []pgtype.Timestamptz
	insCapped                                 []bool

	gCustomers, gGrades               []string
	gRanks                            []int32
	gComposite, gValue, gEngage, gFit []float64
	gVersions                         []int64
	gTimes                            []pgtype.Timestamptz
	cIDs, cCustomers, cFrom, cTo      []string
	cTimes                            []pgtype.Timestamptz
	cVersions                         []int64
	cCauses, cReasons                 []string
}

func (w *scoringWrites) empty() bool {
	return len(w.delIDs) == 0 && len(w.insIDs) == 0 && len(w.gCustomers) == 0 && len(w.cIDs) == 0
}

// planScoringWrites compares each update's ledger with the stored one (by
// model and entry id) and plans the deletion of entries that went or
// changed and the insertion of entries that came or changed.
func planScoringWrites(tenant string, b *domain.ScoringBatch, ups []domain.ScoringUpdate) (*scoringWrites, error) {
	stored := make(map[string]*domain.ScoringInput, len(b.Customers))
	for i := range b.Customers {
		stored[b.Customers[i].Customer.ID] = &b.Customers[i]
	}
	w := &scoringWrites{}
	if n := len(b.Customers); n > 0 {
		w.first, w.last = b.Customers[0].Customer.ID, b.Customers[n-1].Customer.ID
	}
	for _, up := range ups {
		cid, _ := parseID(up.CustomerID)
		in := stored[cid]
		if in == nil {
			continue // not in the batch: not locked, so not written
		}
		if up.SetLedger {
			type key struct{ model, id string }
			old := make(map[key]*domain.LedgerEntry, len(in.Ledger))
			for i := range in.Ledger {
				e := &in.Ledger[i]
				old[key{e.ModelID, e.ID}] = e
			}
			for i := range up.Ledger {
				e := up.Ledger[i]
				e.CustomerID = cid
				e.AwardedAt, e.ExpiresAt = normTime(e.AwardedAt), normTime(e.ExpiresAt)
				if err := checkLedgerEntry(&e); err != nil {
					return nil, err
				}
				k := key{e.ModelID, e.ID}
				if o, ok := old[k]; ok {
					delete(old, k)
					if domain.SameLedgerEntry(o, &e) {
						continue
					}
					w.delCustomers, w.delModels, w.delIDs = append(w.delCustomers, cid), append(w.delModels, o.ModelID), append(w.delIDs, o.ID)
				}
				w.insCustomers, w.insModels, w.insIDs, w.insRules = append(w.insCustomers, cid), append(w.insModels, e.ModelID), append(w.insIDs, e.ID), append(w.insRules, e.RuleID)
				w.insVersions, w.insPoints = append(w.insVersions, e.RuleVersion), append(w.insPoints, e.Points)
				w.insKinds, w.insEvents, w.insRefs = append(w.insKinds, string(e.EventKind)), append(w.insEvents, e.EventID), append(w.insRefs, e.EventRef)
				w.insAwarded, w.insExpires, w.insCapped = append(w.insAwarded, sortTime(e.AwardedAt)), append(w.insExpires, nullTime(e.ExpiresAt)), append(w.insCapped, e.Capped)
			}
			for _, o := range old {
				w.delCustomers, w.delModels, w.delIDs = append(w.delCustomers, cid), append(w.delModels, o.ModelID), append(w.delIDs, o.ID)
			}
		}
		if g := up.Grade; g != nil {
			if err := checkText(g.Grade); err != nil {
				return nil, fieldError("grade", err)
			}
			if err := checkTime(g.GradeTime); err != nil {
				return nil, fieldError("grade_time", err)
			}
			w.gCustomers, w.gGrades, w.gRanks = append(w.gCustomers, cid), append(w.gGrades, g.Grade), append(w.gRanks, int32(g.Rank))
			w.gComposite, w.gValue, w.gEngage, w.gFit = append(w.gComposite, g.Composite), append(w.gValue, g.Value), append(w.gEngage, g.Engagement), append(w.gFit, g.Fit)
			w.gVersions, w.gTimes = append(w.gVersions, g.PolicyVersion), append(w.gTimes, sortTime(normTime(g.GradeTime)))
		}
		if c := up.Change; c != nil {
			id, ok := parseID(c.ID)
			if !ok {
				return nil, domain.Invalid("grade_change.id", "must be a UUID")
			}
			for _, t := range []string{c.From, c.To, string(c.Cause), c.Reason} {
				if err := checkText(t); err != nil {
					return nil, fieldError("grade_change", err)
				}
			}
			if err := checkTime(c.Time); err != nil {
				return nil, fieldError("grade_change.time", err)
			}
			w.cIDs, w.cCustomers, w.cFrom, w.cTo = append(w.cIDs, id), append(w.cCustomers, cid), append(w.cFrom, c.From), append(w.cTo, c.To)
			w.cTimes, w.cVersions = append(w.cTimes, sortTime(normTime(c.Time))), append(w.cVersions, c.PolicyVersion)
			w.cCauses, w.cReasons = append(w.cCauses, string(c.Cause)), append(w.cReasons, c.Reason)
		}
	}
	return w, nil
}

// checkLedgerEntry checks what an entry needs to be storable.
func checkLedgerEntry(e *domain.LedgerEntry) error {
	for _, id := range []string{e.ModelID, e.ID, e.RuleID} {
		if _, ok := parseID(id); !ok {
			return domain.Invalid("ledger", "entry ids must be UUIDs")
		}
	}
	for _, t := range []string{string(e.EventKind), e.EventID, e.EventRef} {
		if err := checkText(t); err != nil {
			return fieldError("ledger", err)
		}
	}
	for _, t := range []time.Time{e.AwardedAt, e.ExpiresAt} {
		if err := checkTime(t); err != nil {
			return fieldError("ledger", err)
		}
	}
	return nil
}

// queue queues the writes, deletions first.
func (w *scoringWrites) queue(b *pgx.Batch, tenant string) {
	if len(w.delIDs) > 0 {
		b.Queue(qDeleteLedgerRows, tenant, w.delCustomers, w.delModels, w.delIDs, w.first, w.last)
	}
	if len(w.insIDs) > 0 {
		b.Queue(qInsertLedgerRows, tenant, w.insCustomers, w.insModels, w.insIDs, w.insRules, w.insVersions, w.insKinds,
			w.insEvents, w.insRefs, w.insPoints, w.insAwarded, w.insExpires, w.insCapped)
	}
	if len(w.gCustomers) > 0 {
		b.Queue(qUpsertGrades, tenant, w.gCustomers, w.gGrades, w.gRanks, w.gComposite, w.gValue, w.gEngage, w.gFit, w.gVersions, w.gTimes)
	}
	if len(w.cIDs) > 0 {
		b.Queue(qInsertGradeChanges, tenant, w.cIDs, w.cCustomers, w.cFrom, w.cTo, w.cTimes, w.cVersions, w.cCauses, w.cReasons)
	}
}

// CustomerLedger returns a customer's entries by model, awarded_at, id.
func (s *Store) CustomerLedger(ctx context.Context, tenantID, customerID string) ([]domain.LedgerEntry, error) {
	sc, ok := tenantScope(tenantID)
	cid, idOK := parseID(customerID)
	if !ok || !idOK {
		return nil, nil
	}
	var out []domain.LedgerEntry
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCustomerLedger, sc.tenant, cid)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return forEachLedgerRow(rows, func(e domain.LedgerEntry) { out = append(out, e) })
	})
	return out, err
}

// TopScores ranks every customer by its score in modelID at asOf.
func (s *Store) TopScores(ctx context.Context, tenantID, modelID string, asOf time.Time, limit int, after *domain.ScoreCursor) ([]domain.CustomerScore, error) {
	sc, ok := tenantScope(tenantID)
	mid, midOK := parseID(modelID)
	if !ok || limit <= 0 {
		return nil, nil
	}
	if !midOK {
		mid = "00000000-0000-0000-0000-000000000000" // no model: every score is 0
	}
	if err := checkTime(asOf); err != nil {
		return nil, fieldError("as_of", err)
	}
	var afterScore int64
	var afterID *string
	if after != nil {
		id, ok := parseID(after.ID)
		if !ok {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
		afterScore, afterID = after.Score, &id
	}
	var out []domain.CustomerScore
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qTopScores, sc.tenant, mid, sortTime(asOf), afterScore, afterID, limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.CustomerScore, error) {
			var cs domain.CustomerScore
			err := row.Scan(&cs.CustomerID, &cs.Score)
			return cs, err
		})
		return err
	})
	return out, err
}

// policyDoc is the stored JSON form of a grading policy's settings.
type policyDoc struct {
	Grades            []string  `json:"grades"`
	ValueWeight       float64   `json:"value_weight"`
	EngagementWeight  float64   `json:"engagement_weight"`
	FitWeight         float64   `json:"fit_weight"`
	ValueSource       string    `json:"value_source"`
	ValueTarget       int64     `json:"value_target"`
	EngagementModelID string    `json:"engagement_model_id,omitempty"`
	EngagementTarget  int64     `json:"engagement_target"`
	Fit               []fitDoc  `json:"fit,omitempty"`
	BANT              bantDoc   `json:"bant"`
	Thresholds        string    `json:"thresholds"`
	Cutoffs           []float64 `json:"cutoffs"`
}

type fitDoc struct {
	Name      string  `json:"name"`
	Condition string  `json:"condition"`
	Points    float64 `json:"points"`
}

type bantDoc struct {
	BudgetMin       int64   `json:"budget_min"`
	BudgetPoints    float64 `json:"budget_points"`
	AuthorityPoints float64 `json:"authority_points"`
	NeedPoints      float64 `json:"need_points"`
	TimelinePoints  float64 `json:"timeline_points"`
	TimelineDays    int     `json:"timeline_days"`
}

func encodePolicy(p *domain.GradingPolicy) ([]byte, error) {
	d := policyDoc{
		Grades: p.Grades, ValueWeight: p.ValueWeight, EngagementWeight: p.EngagementWeight, FitWeight: p.FitWeight,
		ValueSource: string(p.ValueSource), ValueTarget: int64(p.ValueTarget), EngagementModelID: p.EngagementModelID,
		EngagementTarget: p.EngagementTarget, Thresholds: string(p.Thresholds), Cutoffs: p.Cutoffs,
		BANT: bantDoc{BudgetMin: int64(p.BANT.BudgetMin), BudgetPoints: p.BANT.BudgetPoints, AuthorityPoints: p.BANT.AuthorityPoints,
			NeedPoints: p.BANT.NeedPoints, TimelinePoints: p.BANT.TimelinePoints, TimelineDays: p.BANT.TimelineDays},
	}
	for _, f := range p.Fit {
		d.Fit = append(d.Fit, fitDoc(f))
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("%w: policy: %v", domain.ErrInvalid, err)
	}
	return b, nil
}

func scanGradingPolicy(row pgx.Row, tenant string) (domain.GradingPolicy, error) {
	var p domain.GradingPolicy
	var doc []byte
	var calibrated pgtype.Timestamptz
	if err := row.Scan(&p.Version, &doc, &p.Cuts, &calibrated, &p.CreateTime); err != nil {
		return domain.GradingPolicy{}, err
	}
	var d policyDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return domain.GradingPolicy{}, fmt.Errorf("postgres: stored policy: %v", err)
	}
	p.TenantID, p.CalibrateTime, p.CreateTime = tenant, goTime(calibrated), p.CreateTime.UTC()
	p.Grades, p.ValueWeight, p.EngagementWeight, p.FitWeight = d.Grades, d.ValueWeight, d.EngagementWeight, d.FitWeight
	p.ValueSource, p.ValueTarget, p.EngagementModelID = domain.ValueSource(d.ValueSource), domain.Money(d.ValueTarget), d.EngagementModelID
	p.EngagementTarget, p.Thresholds, p.Cutoffs = d.EngagementTarget, domain.ThresholdMode(d.Thresholds), d.Cutoffs
	p.BANT = domain.BANT{BudgetMin: domain.Money(d.BANT.BudgetMin), BudgetPoints: d.BANT.BudgetPoints, AuthorityPoints: d.BANT.AuthorityPoints,
		NeedPoints: d.BANT.NeedPoints, TimelinePoints: d.BANT.TimelinePoints, TimelineDays: d.BANT.TimelineDays}
	for _, f := range d.Fit {
		p.Fit = append(p.Fit, domain.FitCriterion(f))
	}
	if len(p.Cuts) == 0 {
		p.Cuts = nil
	}
	return p, nil
}

// SaveGradingPolicy stores p if it is the next version.
func (s *Store) SaveGradingPolicy(ctx context.Context, p domain.GradingPolicy) (domain.GradingPolicy, error) {
	for _, t := range []time.Time{p.CreateTime, p.CalibrateTime} {
		if err := checkTime(t); err != nil {
			return domain.GradingPolicy{}, fieldError("policy", err)
		}
	}
	texts := append(slices.Clone(p.Grades), p.EngagementModelID, string(p.ValueSource), string(p.Thresholds))
	for _, f := range p.Fit {
		texts = append(texts, f.Name, f.Condition)
	}
	for _, t := range texts {
		if err := checkText(t); err != nil {
			return domain.GradingPolicy{}, fieldError("policy", err)
		}
	}
	sc, ok := tenantScope(p.TenantID)
	if !ok {
		return domain.GradingPolicy{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, p.TenantID)
	}
	doc, err := encodePolicy(&p)
	if err != nil {
		return domain.GradingPolicy{}, err
	}
	cuts := p.Cuts
	if cuts == nil {
		cuts = []float64{}
	}
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSaveGradingPolicy, sc.tenant, p.Version, doc, cuts, nullTime(p.CalibrateTime), sortTime(p.CreateTime))
		b.Queue(qPolicyVersion, sc.tenant)
	}, func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		var cur int64
		if err := br.QueryRow().Scan(&cur); err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: the next policy version is %d, not %d", domain.ErrStale, cur+1, p.Version)
		}
		return nil
	})
	if err != nil {
		return domain.GradingPolicy{}, err
	}
	p.TenantID, p.CreateTime, p.CalibrateTime = sc.tenant, normTime(p.CreateTime), normTime(p.CalibrateTime)
	return p, nil
}

// GetGradingPolicy returns the current policy.
func (s *Store) GetGradingPolicy(ctx context.Context, tenantID string) (domain.GradingPolicy, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return domain.GradingPolicy{}, fmt.Errorf("%w: grading policy", domain.ErrNotFound)
	}
	var out domain.GradingPolicy
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCurrentGradingPolicy, sc.tenant)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanGradingPolicy(br.QueryRow(), sc.tenant)
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.GradingPolicy{}, fmt.Errorf("%w: grading policy", domain.ErrNotFound)
	}
	return out, err
}

// SetGradingCuts sets the calibrated cuts of the current policy version.
func (s *Store) SetGradingCuts(ctx context.Context, tenantID string, version int64, cuts []float64, at time.Time) error {
	if err := checkTime(at); err != nil {
		return fieldError("calibrate_time", err)
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return fmt.Errorf("%w: grading policy", domain.ErrNotFound)
	}
	if cuts == nil {
		cuts = []float64{}
	}
	return s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSetGradingCuts, sc.tenant, version, cuts, sortTime(at))
	}, func(br pgx.BatchResults) error {
		var v int64
		err := br.QueryRow().Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: policy version %d is not current", domain.ErrStale, version)
		}
		return err
	})
}

// CustomerGrades returns the stored grades of the given customers.
func (s *Store) CustomerGrades(ctx context.Context, tenantID string, customerIDs []string) (map[string]domain.CustomerGrade, error) {
	out := map[string]domain.CustomerGrade{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	ids := make([]string, 0, len(customerIDs))
	for _, id := range customerIDs {
		if cid, ok := parseID(id); ok {
			ids = append(ids, cid)
		}
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCustomersGrades, sc.tenant, ids)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return forEachGradeRow(rows, func(g domain.CustomerGrade) { out[g.CustomerID] = g })
	})
	return out, err
}

// CountGrades counts the stored grades (qCountGrades).
func (s *Store) CountGrades(ctx context.Context, tenantID string) (map[string]int64, error) {
	out := map[string]int64{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCountGrades, sc.tenant)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var grade string
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&grade, &n}, func() error {
			out[grade] = n
			return nil
		})
		return err
	})
	return out, err
}

// TopGrades lists graded customers by rank, composite descending, id.
func (s *Store) TopGrades(ctx context.Context, tenantID string, limit int, after *domain.GradeCursor) ([]domain.CustomerGrade, error) {
	sc, ok := tenantScope(tenantID)
	if !ok || limit <= 0 {
		return nil, nil
	}
	var rank int32
	var composite float64
	var afterID *string
	if after != nil {
		id, ok := parseID(after.ID)
		if !ok {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
		rank, composite, afterID = int32(after.Rank), after.Composite, &id
	}
	var out []domain.CustomerGrade
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qTopGrades, sc.tenant, rank, composite, afterID, limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		return forEachGradeRow(rows, func(g domain.CustomerGrade) { out = append(out, g) })
	})
	return out, err
}

// ListGradeChanges returns changes newest first.
func (s *Store) ListGradeChanges(ctx context.Context, tenantID string, q domain.GradeChangeQuery) ([]domain.GradeChange, error) {
	sc, ok := tenantScope(tenantID)
	if !ok || q.Limit <= 0 {
		return nil, nil
	}
	var afterTime pgtype.Timestamptz
	var afterID *string
	if q.After != nil {
		t, tOK := q.After.Value.(time.Time)
		id, idOK := parseID(q.After.ID)
		if !tOK || !idOK {
			return nil, domain.Invalid("page_token", "malformed page token")
		}
		afterTime, afterID = sortTime(t), &id
	}
	var out []domain.GradeChange
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		if q.CustomerID == "" {
			b.Queue(qListGradeChanges, sc.tenant, afterTime, afterID, q.Limit)
			return
		}
		cid, ok := parseID(q.CustomerID)
		if !ok {
			cid = "00000000-0000-0000-0000-000000000000"
		}
		b.Queue(qListCustomerGradeChanges, sc.tenant, cid, afterTime, afterID, q.Limit)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var c domain.GradeChange
		var cause string
		_, err = pgx.ForEachRow(rows, []any{&c.ID, &c.CustomerID, &c.From, &c.To, &c.Time, &c.PolicyVersion, &cause, &c.Reason}, func() error {
			out = append(out, domain.GradeChange{ID: c.ID, CustomerID: c.CustomerID, From: c.From, To: c.To, Time: c.Time.UTC(),
				PolicyVersion: c.PolicyVersion, Cause: domain.GradeCause(cause), Reason: c.Reason})
			return nil
		})
		return err
	})
	return out, err
}

// RecordQualificationChanges stores the changes that differ from their
// customer's latest one, under the customers' locks.
func (s *Store) RecordQualificationChanges(ctx context.Context, tenantID string, cs []domain.QualificationChange) (int, error) {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		if _, ok := parseID(c.ID); !ok {
			return 0, domain.Invalid("id", "must be a UUID")
		}
		if err := checkTime(c.At); err != nil {
			return 0, fieldError("time", err)
		}
		if err := checkTime(c.Qualification.DecisionTime); err != nil {
			return 0, fieldError("qualification.decision_time", err)
		}
		if err := checkText(c.Qualification.Need + string(c.Qualification.Authority)); err != nil {
			return 0, fieldError("qualification", err)
		}
		if cid, ok := parseID(c.CustomerID); ok {
			ids = append(ids, cid)
		}
	}
	sc, ok := tenantScope(tenantID)
	if !ok || len(ids) == 0 {
		return 0, nil
	}
	type latest struct {
		q    domain.Qualification
		seen bool
	}
	var n int
	var last map[string]*latest
	err := s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLatestQualifications, sc.tenant, ids)
	}, func(br pgx.BatchResults) error {
		last = map[string]*latest{}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var cid string
		var budget *int64
		var authority, need *string
		var decision pgtype.Timestamptz
		_, err = pgx.ForEachRow(rows, []any{&cid, &budget, &authority, &need, &decision}, func() error {
			l := &latest{}
			if budget != nil {
				l.q = domain.Qualification{Budget: domain.Money(*budget), Authority: domain.Authority(*authority), Need: *need, DecisionTime: goTime(decision)}
			}
			last[cid] = l
			return nil
		})
		return err
	}, func(tx pgx.Tx) error {
		n = 0
		var qIDs, qCustomers, qAuthorities, qNeeds []string
		var qTimes, qDecisions []pgtype.Timestamptz
		var qBudgets []int64
		for _, c := range cs {
			cid, _ := parseID(c.CustomerID)
			l := last[cid]
			if l == nil { // no such customer
				continue
			}
			q := c.Qualification
			q.DecisionTime = normTime(q.DecisionTime)
			if sameQualification(l.q, q) {
				continue
			}
			id, _ := parseID(c.ID)
			l.q = q
			qIDs, qCustomers, qAuthorities, qNeeds = append(qIDs, id), append(qCustomers, cid), append(qAuthorities, string(q.Authority)), append(qNeeds, q.Need)
			qTimes, qDecisions, qBudgets = append(qTimes, sortTime(normTime(c.At))), append(qDecisions, nullTime(q.DecisionTime)), append(qBudgets, int64(q.Budget))
		}
		if len(qIDs) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, qInsertQualificationChanges, sc.tenant, qIDs, qCustomers, qTimes, qBudgets, qAuthorities, qNeeds, qDecisions)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}

func sameQualification(a, b domain.Qualification) bool {
	return a.Budget == b.Budget && a.Authority == b.Authority && a.Need == b.Need && a.DecisionTime.Equal(b.DecisionTime)
}
