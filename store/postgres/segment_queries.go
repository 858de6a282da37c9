package postgres

import "github.com/potentialhq/potential/domain"

// The statements of segments (segment.go). As in queries.go, $1 is the
// tenant id in every tenant-scoped statement.

// segmentChannel is the NOTIFY channel on which a transaction that appended
// segment events announces its tenant id, at its commit.
const segmentChannel = "potential_segment_events"

// Segments.
const (
	segmentColumns = `id, name, description, kind, rule, built_in, version, create_time, update_time`

	qCreateSegment = `INSERT INTO segments (tenant_id, id, name, description, kind, rule, built_in, version, create_time, update_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)`
	qGetSegment    = `SELECT ` + segmentColumns + ` FROM segments WHERE tenant_id = $1 AND id = $2`
	qListSegments  = `SELECT ` + segmentColumns + ` FROM segments WHERE tenant_id = $1 ORDER BY name`
	qLockSegment   = `SELECT ` + segmentColumns + ` FROM segments WHERE tenant_id = $1 AND id = $2 FOR UPDATE`
	qUpdateSegment = `UPDATE segments SET name = $3, description = $4, rule = $5, version = version + 1, update_time = $6
WHERE tenant_id = $1 AND id = $2`
	qDeleteSegment = `DELETE FROM segments WHERE tenant_id = $1 AND id = $2`
	// qDynamicSegments are the segments every evaluation reads, in id order.
	qDynamicSegments    = `SELECT ` + segmentColumns + ` FROM segments WHERE tenant_id = $1 AND kind = 'dynamic' ORDER BY id`
	qHasDynamicSegments = `SELECT EXISTS (SELECT FROM segments WHERE tenant_id = $1 AND kind = 'dynamic')`
)

// The log.
const (
	// qLockLogHead locks the tenant's log head (creating it) and returns
	// the last cursor; the lock is held to the commit.
	qLockLogHead = `INSERT INTO segment_log_heads (tenant_id) VALUES ($1)
ON CONFLICT (tenant_id) DO UPDATE SET last_cursor = segment_log_heads.last_cursor
RETURNING last_cursor`
	qSetLogHead = `UPDATE segment_log_heads SET last_cursor = $2 WHERE tenant_id = $1`
	// qAppendEvents appends events $3.. with cursors $2+1, $2+2, ... in
	// array order.
	qAppendEvents = `INSERT INTO segment_events (tenant_id, cursor, segment_id, customer_id, kind, at, cause)
SELECT $1, $2 + u.n, u.segment_id, u.customer_id, u.kind, $6, $7
FROM unnest($3::uuid[], $4::uuid[], $5::smallint[]) WITH ORDINALITY AS u(segment_id, customer_id, kind, n)`
	qNotify = `SELECT pg_notify('` + segmentChannel + `', $1)`

	qAddMembers = `INSERT INTO segment_members (tenant_id, segment_id, customer_id, since)
SELECT $1, u.segment_id, u.customer_id, $4 FROM unnest($2::uuid[], $3::uuid[]) AS u(segment_id, customer_id)`
	qRemoveMembers = `DELETE FROM segment_members m USING unnest($2::uuid[], $3::uuid[]) AS u(segment_id, customer_id)
WHERE m.tenant_id = $1 AND m.segment_id = u.segment_id AND m.customer_id = u.customer_id`
	// qMembersOf reads the current members among customers $2 (sorted)
	// of segments $3.
	qMembersOf = `SELECT segment_id, customer_id FROM segment_members
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND segment_id = ANY($3::uuid[])`
	// qSetDue sets the due times of customers $2; with $4, a stored
	// earlier one is kept (a run of some segments: another segment's rule
	// may need it).
	qSetDue = `INSERT INTO segment_due (tenant_id, customer_id, due)
SELECT $1, u.customer_id, u.due FROM unnest($2::uuid[], $3::timestamptz[]) AS u(customer_id, due)
ON CONFLICT (tenant_id, customer_id) DO UPDATE
SET due = CASE WHEN $4::bool THEN least(segment_due.due, excluded.due) ELSE excluded.due END`
	// qInsertDue inserts the due times of customers that have none.
	qInsertDue = `INSERT INTO segment_due (tenant_id, customer_id, due)
SELECT $1, u.customer_id, u.due FROM unnest($2::uuid[], $3::timestamptz[]) AS u(customer_id, due)`
	qClearDue = `DELETE FROM segment_due WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])`

	// qDropMembers deletes a segment's members, returning them in id order.
	qDropMembers = `DELETE FROM segment_members WHERE tenant_id = $1 AND segment_id = $2 RETURNING customer_id`

	qListMembers = `SELECT customer_id, since FROM segment_members
WHERE tenant_id = $1 AND segment_id = $2 AND customer_id > $3 ORDER BY customer_id LIMIT $4`
	qCustomerSegments = `SELECT segment_id FROM segment_members WHERE tenant_id = $1 AND customer_id = $2 ORDER BY segment_id`

	eventColumns  = `cursor, segment_id, customer_id, kind, at, cause`
	qListEvents   = `SELECT ` + eventColumns + ` FROM segment_events WHERE tenant_id = $1 AND cursor > $2 ORDER BY cursor LIMIT $3`
	qEventsOfSegs = `SELECT ` + eventColumns + ` FROM segment_events
WHERE tenant_id = $1 AND cursor > $2 AND segment_id = ANY($4::uuid[]) ORDER BY cursor LIMIT $3`
	qEventsOfCustomerSegs = `SELECT ` + eventColumns + ` FROM segment_events
WHERE tenant_id = $1 AND cursor > $2 AND customer_id = $4 AND segment_id = ANY($5::uuid[]) ORDER BY cursor LIMIT $3`
	qEventsOfCustomer = `SELECT ` + eventColumns + ` FROM segment_events
WHERE tenant_id = $1 AND cursor > $2 AND customer_id = $4 ORDER BY cursor LIMIT $3`

	qSegmentCustomersExist = `SELECT id FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[])`

	qDueCustomers = `SELECT customer_id FROM segment_due WHERE tenant_id = $1 AND due <= $2 ORDER BY due, customer_id LIMIT $3`

	// Erasure of a customer (DeleteCustomer).
	qDeleteCustomerMembers = `DELETE FROM segment_members WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteCustomerEvents  = `DELETE FROM segment_events WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteCustomerDue     = `DELETE FROM segment_due WHERE tenant_id = $1 AND customer_id = $2`
)

// Facts.
const (
	// qSegmentPlan sets up a transaction that reads a batch of customers'
	// facts and members: each customer looked up by its primary keys and
	// indexes, never a scan of the tenant's tables, which the planner picks
	// for a batch of more than a few percent of a tenant (it costs random
	// reads of cached pages as if they came from disk; see qBulkWrite).
	qSegmentPlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
    set_config('enable_bitmapscan', 'off', true)`

	// qSegmentFacts reads the facts of customers $2 at $3: the customer
	// with its assessment, its grade, its unresolved complaints (by
	// feedback_unresolved), the times of its interactions in the 90
	// days up to $3 (by interactions_customer: the window is written as
	// row comparisons, as in qInputsOf, so that no plan, generic or not,
	// can take it from interactions_occurred_at), its stored lead
	// conversion scores (by lead_conversion_scores_customer) and the
	// engagement model of the tenant's grading policy (which chooses among
	// them, domain.RuleLeadScore), in id order.
	qSegmentFacts = customerSelect + `,
    coalesce(g.grade, ''), coalesce(g.composite, 0), coalesce(g.engagement_score, 0), coalesce(fb.open, 0),
    coalesce(i.times, '{}'), coalesce(cv.models, '{}'), coalesce(cv.probs, '{}'), coalesce(cv.bands, '{}'),
    coalesce(pm.model, '')
FROM customers c
LEFT JOIN LATERAL (
    SELECT * FROM assessments x WHERE x.tenant_id = c.tenant_id AND x.customer_id = c.id LIMIT 1
) a ON true
LEFT JOIN customer_grades g ON g.tenant_id = c.tenant_id AND g.customer_id = c.id
LEFT JOIN LATERAL (
    SELECT count(*) AS open FROM feedback f
    WHERE f.tenant_id = $1 AND f.customer_id = c.id AND f.status IN ('open', 'in_progress')
) fb ON true
LEFT JOIN LATERAL (
    SELECT array_agg(occurred_at ORDER BY occurred_at) AS times FROM interactions x
    WHERE x.tenant_id = $1 AND x.customer_id = c.id AND (x.customer_id, x.occurred_at) > (c.id, $3::timestamptz - interval '2160 hours')
        AND (x.customer_id, x.occurred_at) <= (c.id, $3)
) i ON true
LEFT JOIN LATERAL (
    SELECT array_agg(v.scoring_model_id ORDER BY v.scoring_model_id) AS models,
        array_agg(v.probability ORDER BY v.scoring_model_id) AS probs, array_agg(v.band ORDER BY v.scoring_model_id) AS bands
    FROM lead_conversion_scores v WHERE v.tenant_id = $1 AND v.customer_id = c.id
) cv ON true
LEFT JOIN LATERAL (
    SELECT p.policy->>'engagement_model_id' AS model FROM grading_policies p
    WHERE p.tenant_id = $1 ORDER BY p.version DESC LIMIT 1
) pm ON true
WHERE c.tenant_id = $1 AND c.id = ANY($2::uuid[])
ORDER BY c.id`
)

// Bulk runs (segment_bulk.go): every customer of a tenant in one
// statement, read from the snapshot of the transaction that writes.
const (
	// qEnsureLogHead creates the tenant's log head if it has none, without
	// locking an existing one.
	qEnsureLogHead = `INSERT INTO segment_log_heads (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING`
	// qExportSnapshot exports the transaction's snapshot, for a bulk run's
	// read on another connection.
	qExportSnapshot = `SELECT pg_export_snapshot()`
)

// The joins of qBulkFacts, each read only when a column needs it.
const (
	bulkJoinAssess = `
LEFT JOIN assessments a ON a.tenant_id = c.tenant_id AND a.customer_id = c.id`
	bulkJoinGrade = `
LEFT JOIN customer_grades g ON g.tenant_id = c.tenant_id AND g.customer_id = c.id`
	bulkJoinOpen = `
LEFT JOIN (
    SELECT customer_id, count(*) AS open FROM feedback
    WHERE tenant_id = $1 AND status IN ('open', 'in_progress') GROUP BY customer_id
) fb ON fb.customer_id = c.id`
	bulkJoinTimes = `
LEFT JOIN (
    SELECT customer_id, array_agg(occurred_at ORDER BY occurred_at) AS times FROM interactions
    WHERE tenant_id = $1 AND occurred_at > $2::timestamptz - interval '2160 hours' AND occurred_at <= $2
    GROUP BY customer_id
) i ON i.customer_id = c.id`
	bulkJoinConversion = `
LEFT JOIN (
    SELECT customer_id, array_agg(scoring_model_id ORDER BY scoring_model_id) AS models,
        array_agg(probability ORDER BY scoring_model_id) AS probs, array_agg(band ORDER BY scoring_model_id) AS bands
    FROM lead_conversion_scores WHERE tenant_id = $1 GROUP BY customer_id
) cv ON cv.customer_id = c.id`
	bulkJoinMembers = `
LEFT JOIN (
    SELECT customer_id, array_agg(segment_id) AS segs FROM segment_members
    WHERE tenant_id = $1 AND segment_id = ANY($3::uuid[]) GROUP BY customer_id
) m ON m.customer_id = c.id`
	bulkJoinDue = `
LEFT JOIN segment_due d ON d.tenant_id = c.tenant_id AND d.customer_id = c.id`
	bulkWhere = `
WHERE c.tenant_id = $1 AND $2::timestamptz IS NOT NULL`
)

// bulkColumn is a column of qBulkFacts: the fact it holds, its
// expression, the join it needs and where a bulkScanner scans it.
type bulkColumn struct {
	fact domain.SegmentFactSet
	expr string
	join string
	dest func(*bulkScanner) []any
}

// bulkColumns are the columns of qBulkFacts after c.id, in order; a run
// reads those of the facts it needs (every one when it needs the whole
// customer, read by customerColumns then).
var bulkColumns = []bulkColumn{
	{domain.FactKind, "c.kind", "", func(s *bulkScanner) []any { return []any{&s.kind} }},
	{domain.FactCountry, "c.country", "", func(s *bulkScanner) []any { return []any{&s.c.Country} }},
	{domain.FactRegion, "c.region", "", func(s *bulkScanner) []any { return []any{&s.c.Region} }},
	{domain.FactCity, "c.city", "", func(s *bulkScanner) []any { return []any{&s.c.City} }},
	{domain.FactIndustry, "c.industry", "", func(s *bulkScanner) []any { return []any{&s.c.Industry} }},
	{domain.FactCompanySize, "c.company_size", "", func(s *bulkScanner) []any { return []any{&s.companySize} }},
	{domain.FactAgeBand, "c.age_band", "", func(s *bulkScanner) []any { return []any{&s.ageBand} }},
	{domain.FactGender, "c.gender", "", func(s *bulkScanner) []any { return []any{&s.gender} }},
	{domain.FactAcquisitionChannel, "c.acquisition_channel", "", func(s *bulkScanner) []any { return []any{&s.c.AcquisitionChannel} }},
	{domain.FactAttributes, "c.attributes", "", func(s *bulkScanner) []any { return []any{&s.attrs} }},
	{domain.FactPurchases, "c.orders, c.purchase_days, c.total_spend, c.refund_total, c.last_purchase_time", "", func(s *bulkScanner) []any {
		return []any{&s.c.Purchases.Orders, &s.c.Purchases.PurchaseDays, &s.totalSpend, &s.refundTotal, &s.lastPurchase}
	}},
	{domain.FactEngagement, "c.last_interaction_time", "", func(s *bulkScanner) []any { return []any{&s.lastInteraction} }},
	{domain.FactAssessment, assessmentColumns, bulkJoinAssess, func(s *bulkScanner) []any { return s.a.dest() }},
	{domain.FactGrade, "coalesce(g.grade, ''), coalesce(g.composite, 0), coalesce(g.engagement_score, 0)", bulkJoinGrade,
		func(s *bulkScanner) []any {
			return []any{&s.f.Grade.Grade, &s.f.Grade.Composite, &s.f.Grade.Engagement}
		}},
	{domain.FactComplaints, "coalesce(fb.open, 0)", bulkJoinOpen, func(s *bulkScanner) []any { return []any{&s.f.OpenComplaints} }},
	{domain.FactInteractions, "coalesce(i.times, '{}')", bulkJoinTimes, func(s *bulkScanner) []any { return []any{&s.times} }},
	// The policy's engagement model chooses among a lead's scores
	// (domain.RuleLeadScore); the subquery is run once.
	{domain.FactConversion, `coalesce(cv.models, '{}'), coalesce(cv.probs, '{}'), coalesce(cv.bands, '{}'),
    coalesce((SELECT p.policy->>'engagement_model_id' FROM grading_policies p
        WHERE p.tenant_id = $1 ORDER BY p.version DESC LIMIT 1), '')`, bulkJoinConversion,
		func(s *bulkScanner) []any { return []any{&s.convModels, &s.convProbs, &s.convBands, &s.policyModel} }},
}

// qBulkFacts returns the statement that reads every customer of tenant $1
// with the facts of need at $2 (the whole stored customer, with every
// fact, when full), the segments among $3 it is a member of and, with
// due, its due time; and where s scans each column. The plan scans each
// table it reads once and joins by hash (see TestSegmentBulkPlan):
// per-customer index probes cost a random read each, which over a whole
// tenant is what made a run take minutes.
func qBulkFacts(need domain.SegmentFactSet, full, due bool, s *bulkScanner) (string, []any) {
	sel, from := "SELECT c.id", " FROM customers c"
	dest := []any{&s.c.ID}
	if full {
		// scanCustomer scans the customer and its assessment.
		sel, dest, need = "SELECT "+customerColumns, nil, domain.AllSegmentFacts
	}
	for _, c := range bulkColumns {
		switch {
		case need&c.fact == 0, full && c.join == "":
		case full && c.fact == domain.FactAssessment:
			sel, from = sel+",\n    "+c.expr, from+c.join
		default:
			sel, from, dest = sel+",\n    "+c.expr, from+c.join, append(dest, c.dest(s)...)
		}
	}
	sel, from, dest = sel+",\n    coalesce(m.segs, '{}')", from+bulkJoinMembers, append(dest, &s.members)
	if due {
		sel, from, dest = sel+", d.due", from+bulkJoinDue, append(dest, &s.due)
	}
	return sel + from + bulkWhere, dest
}
