package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// The follow-up of an ingestion batch (domain.BatchFollowUp) runs in the
// batch's own transaction, after its write, so that the batch commits once
// and its customers, locked by qResolveCustomers since its first round
// trip, are not locked again. It adds two or three round trips, whatever
// the batch's size:
//
//  1. the customers' assessment inputs and open complaints, whether the
//     tenant has dynamic segments, and what scoring reads (rules, policy,
//     the customers, their events when the tenant has rules, ledgers,
//     grades);
//  2. their new assessments (qPutAssessments; the scoring batch's
//     customers get them in Go, as a read after the write would return
//     them), the scoring writes, then the tenant's segment log head,
//     locked (or, for a tenant without dynamic segments, share-locked, see
//     below), the dynamic segments, the customers' facts and current
//     memberships;
//  3. the memberships, events and due times the segments decide;
//
// then COMMIT. The log head is locked last, so that concurrent batches of
// a tenant queue only for their segment step and commit, not for their
// whole transaction; everything else they lock is their own customers', in
// id order, as every other writer of these rows does.
//
// A tenant without dynamic segments skips the segment step, and takes the
// log head in share mode instead: a dynamic segment created meanwhile is
// populated in batches that each lock the head, so a batch that has not
// committed yet is either evaluated by that population (which waits for
// it) or sees the segment itself (and starts again to evaluate it).

// followUp runs f for the customers ids (sorted, distinct) of a batch on
// tx. An error of f's functions is also stored in fnErr, for the caller to
// return as it is.
func (s *Store) followUp(ctx context.Context, tx pgx.Tx, sc scope, ids []string, f *domain.BatchFollowUp, fnErr *error) error {
	if len(ids) == 0 {
		return nil
	}
	now := normTime(f.Now)
	if err := checkTime(now); err != nil {
		return fieldError("now", err)
	}
	base, recent := now.Add(-120*24*time.Hour), now.Add(-30*24*time.Hour)

	// 1. Assessment inputs, what scoring reads, whether there are
	// dynamic segments.
	score := f.Score != nil
	b := &pgx.Batch{}
	b.Queue(qInputsOf, sc.tenant, ids, base, recent, now)
	b.Queue(qOpenComplaintsOf, sc.tenant, ids)
	b.Queue(qHasDynamicSegments, sc.tenant)
	if score {
		// The events are read only when the tenant has rules (the
		// statements say so themselves).
		queueScoringReads(b, sc.tenant, ids, true, false)
	}
	var in []domain.AssessmentInput
	var segments bool
	var sb *domain.ScoringBatch
	err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var r inputRow
		for rows.Next() {
			in = append(in, domain.AssessmentInput{})
			if err := r.scan(rows, &in[len(in)-1]); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		open := make(map[string]int64)
		if rows, err = br.Query(); err != nil {
			return err
		}
		var id string
		var n int64
		if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error {
			open[id] = n
			return nil
		}); err != nil {
			return err
		}
		for i := range in {
			in[i].OpenComplaints = open[in[i].CustomerID]
		}
		if err := br.QueryRow().Scan(&segments); err != nil {
			return err
		}
		if score {
			sb, err = readScoringBatch(br, sc.tenant, true)
		}
		return err
	})
	if err != nil {
		return err
	}

	// 2. The assessments, the scoring writes (scoring sees the new
	// assessments: the customers' were read before them), then the
	// segment log head and, when the tenant has dynamic segments, what
	// they read (which sees both).
	b = &pgx.Batch{}
	if f.Assess != nil && len(in) > 0 {
		order, err := prepareAssessments(f.Assess(in))
		if err != nil {
			// Not the batch's items at fault: no *ItemError of the batch.
			return fmt.Errorf("postgres: an assessment cannot be stored: %v", err)
		}
		if len(order) > 0 {
			var a assessmentArrays
			for _, x := range order {
				a.add(x)
			}
			// qPutAssessments' plan (see qBulkWrite), for this statement
			// only; the commit stays synchronous: the batch's events are
			// in this transaction.
			b.Queue(qAssessmentPlan)
			b.Queue(qPutAssessments, sc.tenant, a.ids, a.times, a.versions, a.r, a.f, a.m, a.segment, a.historical, a.alive,
				a.purchases, a.spend, a.pred, a.risk, a.churn, a.reasons, a.stage, a.silence, a.cadence)
			b.Queue(qResetPlan)
			if score {
				byID := make(map[string]*domain.Assessment, len(order))
				for _, x := range order {
					byID[x.CustomerID] = x
				}
				for i := range sb.Customers {
					if x := byID[sb.Customers[i].Customer.ID]; x != nil {
						sb.Customers[i].Customer.Assessment = *x
					}
				}
			}
		}
	}
	if score {
		ups, err := f.Score(sb)
		if *fnErr = err; err != nil {
			return err
		}
		w, err := planScoringWrites(sc.tenant, sb, ups)
		if err != nil {
			return err
		}
		w.first, w.last = nil, nil
		w.queue(b, sc.tenant)
	}
	writes := b.Len()
	// Segments follow scoring, as in the Service's own sequence.
	segments = segments && score && f.Segments != nil
	if !segments {
		b.Queue(qEnsureLogHead, sc.tenant)
		b.Queue(qShareLogHead, sc.tenant)
		b.Queue(qHasDynamicSegments, sc.tenant)
		var appeared bool
		err := sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
			for range writes + 2 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return br.QueryRow().Scan(&appeared)
		})
		if err == nil && appeared && score && f.Segments != nil {
			err = errRetry // a dynamic segment was created meanwhile: evaluate it
		}
		return err
	}
	b.Queue(qLockLogHead, sc.tenant)
	b.Queue(qSegmentPlan)
	b.Queue(qDynamicSegments, sc.tenant)
	b.Queue(qGetActionTable, sc.tenant)
	b.Queue(qSegmentFacts, sc.tenant, ids, now)
	b.Queue(qDynamicMembersOf, sc.tenant, ids)
	var head int64
	seg := &domain.SegmentBatch{}
	current := map[[2]string]bool{}
	err = sendBatch(ctx, tx, b, func(br pgx.BatchResults) error {
		for range writes {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := br.QueryRow().Scan(&head); err != nil {
			return err
		}
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		if seg.Segments, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Segment, error) { return scanSegment(r, sc.tenant) }); err != nil {
			return err
		}
		// No row: the default action table (Version 0).
		if seg.Actions, err = scanActionTable(br.QueryRow(), sc.tenant); errors.Is(err, pgx.ErrNoRows) {
			seg.Actions, err = domain.ActionTable{}, nil
		}
		if err != nil {
			return err
		}
		if rows, err = br.Query(); err != nil {
			return err
		}
		if seg.Facts, err = readFacts(rows); err != nil {
			return err
		}
		if rows, err = br.Query(); err != nil {
			return err
		}
		var sid, cid string
		_, err = pgx.ForEachRow(rows, []any{&sid, &cid}, func() error {
			current[[2]string{sid, cid}] = true
			return nil
		})
		return err
	})
	if err != nil || len(seg.Facts) == 0 || len(seg.Segments) == 0 {
		return err
	}

	// 3. The segments' decisions.
	ds, err := f.Segments(seg)
	if *fnErr = err; err != nil {
		return err
	}
	evaluated := make([]string, len(seg.Segments))
	for i := range seg.Segments {
		evaluated[i] = seg.Segments[i].ID
	}
	var w logWrites
	var dueIDs, clearIDs []string
	var dues []time.Time
	for _, d := range ds {
		for _, sg := range evaluated {
			want, in := slices.Contains(d.Members, sg), current[[2]string{sg, d.CustomerID}]
			switch {
			case want && !in:
				w.enter(sg, d.CustomerID)
			case !want && in:
				w.exit(sg, d.CustomerID)
			}
		}
		if d.Due.IsZero() {
			clearIDs = append(clearIDs, d.CustomerID)
		} else {
			dueIDs, dues = append(dueIDs, d.CustomerID), append(dues, normTime(d.Due))
		}
	}
	b = &pgx.Batch{}
	w.queue(b, sc.tenant, head, now, f.SegmentCause)
	if len(dueIDs) > 0 {
		b.Queue(qSetDue, sc.tenant, dueIDs, dues, false) // every segment evaluated
	}
	if len(clearIDs) > 0 {
		b.Queue(qClearDue, sc.tenant, clearIDs)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// sendBatch sends b on tx and hands its results to read.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch, read func(br pgx.BatchResults) error) error {
	br := tx.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}
