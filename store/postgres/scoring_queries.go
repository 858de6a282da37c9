package postgres

// Scoring and grading statements (scoring.go). $1 is the tenant id in every one.

// Scoring models.
const (
	scoringModelColumns = `id, name, description, revision, scored_revision, create_time`

	qCreateScoringModel = `INSERT INTO scoring_models (tenant_id, id, name, description, create_time)
VALUES ($1, $2, $3, $4, $5)
RETURNING ` + scoringModelColumns
	qGetScoringModel   = `SELECT ` + scoringModelColumns + ` FROM scoring_models WHERE tenant_id = $1 AND id = $2`
	qListScoringModels = `SELECT ` + scoringModelColumns + ` FROM scoring_models WHERE tenant_id = $1 ORDER BY name, id`
	// Deleting a model: its ledger rows explicitly (the ledger has no
	// foreign keys), its rules and their versions by cascade.
	qDeleteModelLedger  = `DELETE FROM scoring_ledger WHERE tenant_id = $1 AND model_id = $2`
	qDeleteScoringModel = `DELETE FROM scoring_models WHERE tenant_id = $1 AND id = $2`
	qMarkScored         = `UPDATE scoring_models SET scored_revision = greatest(scored_revision, least($3, revision))
WHERE tenant_id = $1 AND id = $2
RETURNING id`
	// qBumpRevision increments a model's revision: every rule change does,
	// and so takes the model's row lock, which orders concurrent changes.
	qBumpRevision = `UPDATE scoring_models SET revision = revision + 1 WHERE tenant_id = $1 AND id = $2 RETURNING revision`
)

// Scoring rules. The rule columns of both tables, in scanScoringRule's order.
const (
	scoringRuleColumns = `id, model_id, name, description, event_kind, condition, points, validity_us, cap, version,
    create_time, update_time`

	qInsertScoringRule = `INSERT INTO scoring_rules (tenant_id, ` + scoringRuleColumns + `)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`
	qInsertScoringRuleVersion = `INSERT INTO scoring_rule_versions (tenant_id, ` + scoringRuleColumns + `, delete_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	qLockScoringRule   = `SELECT ` + scoringRuleColumns + ` FROM scoring_rules WHERE tenant_id = $1 AND id = $2 FOR UPDATE`
	qUpdateScoringRule = `UPDATE scoring_rules SET name = $3, description = $4, event_kind = $5, condition = $6,
    points = $7, validity_us = $8, cap = $9, version = $10, update_time = $11
WHERE tenant_id = $1 AND id = $2`
	qDeleteScoringRule   = `DELETE FROM scoring_rules WHERE tenant_id = $1 AND id = $2`
	qGetScoringRule      = `SELECT ` + scoringRuleColumns + ` FROM scoring_rules WHERE tenant_id = $1 AND id = $2`
	qScoringRuleVersions = `SELECT ` + scoringRuleColumns + `, delete_time FROM scoring_rule_versions
WHERE tenant_id = $1 AND id = $2 ORDER BY version`
	qListScoringRules = `SELECT ` + scoringRuleColumns + ` FROM scoring_rules
WHERE tenant_id = $1 AND ($2::uuid IS NULL OR model_id = $2)
ORDER BY model_id, create_time, id`
)

// Scoring batches: what ReadScoring and UpdateScoring read and write, for
// the customers $2, whose ids are all between $3 and $4 (the batch's first
// and last) when the batch is a range of consecutive customers, and $3 and
// $4 NULL when it is a list from anywhere in the tenant: see
// queueScoringReads.
const (
	// qCustomPlans makes the rest of the transaction plan every statement
	// for its actual arguments: a batch's customer list, not the generic
	// plan a prepared statement settles on after five runs, which knows
	// neither its length nor that the ledger has grown since.
	qCustomPlans = `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`
	// qListCustomerIDs pages through the tenant's customers in id order.
	qListCustomerIDs = `SELECT id FROM customers WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	// qLockScoringCustomers locks the batch's customers in id order (as
	// ingestion does, so neither deadlocks the other) for no key update:
	// events may still be recorded for them meanwhile (the foreign key
	// checks take key share locks), and are then scored by their own batch.
	qLockScoringCustomers = `SELECT id FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR id BETWEEN $3 AND $4)
ORDER BY id FOR NO KEY UPDATE`
	qScoringCustomers     = customerSelect + customerFromByKey + ` WHERE c.tenant_id = $1 AND c.id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR c.id BETWEEN $3 AND $4)`
	qCurrentGradingPolicy = `SELECT version, policy, cuts, calibrate_time, create_time FROM grading_policies
WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1`
	qAllScoringRules = `SELECT ` + scoringRuleColumns + ` FROM scoring_rules WHERE tenant_id = $1 ORDER BY model_id, create_time, id`

	// qScoringEvents lists the customers' events, as scoring rules see
	// them: transactions (order, refund), interactions (by type),
	// referrals (referral_given for the referrer, referral_received for
	// the referred customer) and qualification changes. Nothing when the
	// tenant has no scoring model (the condition is evaluated once, before
	// the scans): with a model, lead conversion reads them even before it
	// has rules. Columns: customer, kind, id, the source's id, time, amount,
	// margin, quantity, channel, direction, topic, rating.
	qScoringEvents = `SELECT e.* FROM (
    SELECT customer_id, kind, id::text, external_id, occurred_at, amount, coalesce(margin, 0), quantity,
        '', '', '', 0
    FROM transactions WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
    UNION ALL
    SELECT customer_id, type, id::text, external_id, occurred_at, 0, 0, 0, channel, direction, '', 0
    FROM interactions WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
    UNION ALL
    SELECT referrer_id, 'referral_given', id::text, external_id, occurred_at, 0, 0, 0, '', '', '', 0
    FROM referrals WHERE tenant_id = $1 AND referrer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR referrer_id BETWEEN $3 AND $4)
    UNION ALL
    SELECT referred_id, 'referral_received', id::text, external_id, occurred_at, 0, 0, 0, '', '', '', 0
    FROM referrals WHERE tenant_id = $1 AND referred_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR referred_id BETWEEN $3 AND $4)
    UNION ALL
    SELECT customer_id, 'qualification_changed', id::text, '', occurred_at, 0, 0, 0, '', '', '', 0
    FROM qualification_changes WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
) AS e(customer_id, kind, id, ref, occurred_at, amount, margin, quantity, channel, direction, topic, rating)
WHERE EXISTS (SELECT FROM scoring_models WHERE tenant_id = $1)`

	// The customers' feedback and complaint transitions, from which
	// domain.FeedbackScoringEvents makes feedback events (when the tenant
	// has a scoring model).
	qScoringFeedback = `SELECT ` + feedbackColumns + ` FROM feedback
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
    AND EXISTS (SELECT FROM scoring_models WHERE tenant_id = $1)`
	qScoringTransitions = `SELECT ` + transitionColumns + ` FROM complaint_transitions
WHERE tenant_id = $1 AND feedback_id IN (SELECT id FROM feedback WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])
        AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4) AND kind = 'complaint')
    AND EXISTS (SELECT FROM scoring_models WHERE tenant_id = $1)
ORDER BY feedback_id, seq`

	// qScoringEventsListed is qScoringEvents for a listed batch ($2 only):
	// one index range per customer and source, by a lateral subquery that
	// OFFSET 0 keeps from being flattened into a join, so that no plan
	// reads the tenant's events with the list as a filter, whatever the
	// planner's statistics say of a table that grows as events arrive.
	qScoringEventsListed = `SELECT e.* FROM unnest($2::uuid[]) AS k(id) CROSS JOIN LATERAL (
    SELECT customer_id, kind, id::text, external_id, occurred_at, amount, coalesce(margin, 0), quantity,
        '', '', '', 0
    FROM transactions WHERE tenant_id = $1 AND customer_id = k.id
    UNION ALL
    SELECT customer_id, type, id::text, external_id, occurred_at, 0, 0, 0, channel, direction, '', 0
    FROM interactions WHERE tenant_id = $1 AND customer_id = k.id
    UNION ALL
    SELECT referrer_id, 'referral_given', id::text, external_id, occurred_at, 0, 0, 0, '', '', '', 0
    FROM referrals WHERE tenant_id = $1 AND referrer_id = k.id
    UNION ALL
    SELECT referred_id, 'referral_received', id::text, external_id, occurred_at, 0, 0, 0, '', '', '', 0
    FROM referrals WHERE tenant_id = $1 AND referred_id = k.id
    UNION ALL
    SELECT customer_id, 'qualification_changed', id::text, '', occurred_at, 0, 0, 0, '', '', '', 0
    FROM qualification_changes WHERE tenant_id = $1 AND customer_id = k.id
    OFFSET 0
) AS e(customer_id, kind, id, ref, occurred_at, amount, margin, quantity, channel, direction, topic, rating)
WHERE EXISTS (SELECT FROM scoring_models WHERE tenant_id = $1)`

	ledgerColumns  = `customer_id, model_id, id, rule_id, rule_version, event_kind, event_id, event_ref, points, awarded_at, expires_at, capped`
	qScoringLedger = `SELECT ` + ledgerColumns + ` FROM scoring_ledger
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
ORDER BY customer_id, model_id, awarded_at, id`
	// qScoringLedgerListed is qScoringLedger for a listed batch ($2 only),
	// one index range per customer (see qScoringEventsListed).
	qScoringLedgerListed = `SELECT l.* FROM unnest($2::uuid[]) AS k(id) CROSS JOIN LATERAL (
    SELECT ` + ledgerColumns + ` FROM scoring_ledger WHERE tenant_id = $1 AND customer_id = k.id OFFSET 0
) AS l
ORDER BY l.customer_id, l.model_id, l.awarded_at, l.id`
	gradeColumns     = `customer_id, grade, rank, composite, value_score, engagement_score, fit_score, policy_version, grade_time`
	qCustomersGrades = `SELECT ` + gradeColumns + ` FROM customer_grades WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])`
	// qCountGrades counts the tenant's customers by grade, in one pass over
	// its grades: like qAssessmentStats, it reads the whole tenant by
	// design (TestScoringPlans leaves it out), and where the tenant is
	// most of the table the planner rightly scans the table.
	qCountGrades   = `SELECT grade, count(*) FROM customer_grades WHERE tenant_id = $1 GROUP BY grade`
	qScoringGrades = qCustomersGrades + ` AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)`
	// qScoringLeadScores reads the customers' stored lead conversion
	// scores (by lead_conversion_scores_customer), by customer, then
	// scoring model.
	qScoringLeadScores = `SELECT customer_id, scoring_model_id, probability, band, fit_id, score_time FROM lead_conversion_scores
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND ($3::uuid IS NULL OR customer_id BETWEEN $3 AND $4)
ORDER BY customer_id, scoring_model_id`

	// The writes of a batch: ledger rows that went or changed ($2
	// customers, $3 models, $4 ids; $5 and $6 the batch's first and last
	// customer), ledger rows that came or changed, grades, and grade
	// changes.
	qDeleteLedgerRows = `DELETE FROM scoring_ledger l
USING unnest($2::uuid[], $3::uuid[], $4::uuid[]) AS d(customer_id, model_id, id)
WHERE l.tenant_id = $1 AND l.customer_id = d.customer_id AND l.model_id = d.model_id AND l.id = d.id
    AND ($5::uuid IS NULL OR l.customer_id BETWEEN $5 AND $6)`
	qInsertLedgerRows = `INSERT INTO scoring_ledger (tenant_id, ` + ledgerColumns + `)
SELECT $1, u.* FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::bigint[], $7::text[], $8::text[],
    $9::text[], $10::bigint[], $11::timestamptz[], $12::timestamptz[], $13::boolean[]) AS u`
	qUpsertGrades = `INSERT INTO customer_grades (tenant_id, ` + gradeColumns + `)
SELECT $1, u.* FROM unnest($2::uuid[], $3::text[], $4::int[], $5::float8[], $6::float8[], $7::float8[], $8::float8[],
    $9::bigint[], $10::timestamptz[]) AS u
ON CONFLICT (tenant_id, customer_id) DO UPDATE SET grade = excluded.grade, rank = excluded.rank,
    composite = excluded.composite, value_score = excluded.value_score,
    engagement_score = excluded.engagement_score, fit_score = excluded.fit_score,
    policy_version = excluded.policy_version, grade_time = excluded.grade_time`
	gradeChangeColumns  = `id, customer_id, from_grade, to_grade, time, policy_version, cause, reason`
	qInsertGradeChanges = `INSERT INTO grade_changes (tenant_id, ` + gradeChangeColumns + `)
SELECT $1, u.* FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::bigint[],
    $8::text[], $9::text[]) AS u`
)

// Scores and grades.
const (
	qCustomerLedger = `SELECT ` + ledgerColumns + ` FROM scoring_ledger
WHERE tenant_id = $1 AND customer_id = $2
ORDER BY model_id, awarded_at, id`
	// qTopScores ranks every customer by its score in model $2 at $3 (0
	// without entries), after the keyset ($4, $5) when $5 is not NULL.
	qTopScores = `SELECT c.id, coalesce(s.points, 0)::bigint AS score
FROM customers c LEFT JOIN (
    SELECT customer_id, sum(points) AS points FROM scoring_ledger
    WHERE tenant_id = $1 AND model_id = $2 AND awarded_at <= $3 AND (expires_at IS NULL OR expires_at > $3)
    GROUP BY customer_id
) s ON s.customer_id = c.id
WHERE c.tenant_id = $1
    AND ($5::uuid IS NULL OR coalesce(s.points, 0) < $4 OR (coalesce(s.points, 0) = $4 AND c.id > $5))
ORDER BY score DESC, c.id
LIMIT $6`
	// qTopGrades is a range scan of customer_grades_rank after the keyset
	// ($2, $3, $4) when $4 is not NULL.
	qTopGrades = `SELECT ` + gradeColumns + ` FROM customer_grades
WHERE tenant_id = $1
    AND ($4::uuid IS NULL OR rank > $2 OR (rank = $2 AND (composite < $3 OR (composite = $3 AND customer_id > $4))))
ORDER BY rank, composite DESC, customer_id
LIMIT $5`

	qSaveGradingPolicy = `INSERT INTO grading_policies (tenant_id, version, policy, cuts, calibrate_time, create_time)
SELECT $1, $2::bigint, $3, $4, $5, $6
WHERE coalesce((SELECT max(version) FROM grading_policies WHERE tenant_id = $1), 0) = $2::bigint - 1`
	qPolicyVersion  = `SELECT coalesce(max(version), 0) FROM grading_policies WHERE tenant_id = $1`
	qSetGradingCuts = `UPDATE grading_policies SET cuts = $3, calibrate_time = $4
WHERE tenant_id = $1 AND version = $2 AND version = (SELECT max(version) FROM grading_policies WHERE tenant_id = $1)
RETURNING version`

	// The grade change listings, newest first: for the tenant
	// (grade_changes_time) and for customer $2 (grade_changes_customer),
	// after the keyset (time, id) when the id is not NULL.
	qListGradeChanges = `SELECT ` + gradeChangeColumns + ` FROM grade_changes
WHERE tenant_id = $1 AND ($3::uuid IS NULL OR (time, id) < ($2, $3))
ORDER BY time DESC, id DESC
LIMIT $4`
	qListCustomerGradeChanges = `SELECT ` + gradeChangeColumns + ` FROM grade_changes
WHERE tenant_id = $1 AND customer_id = $2 AND ($4::uuid IS NULL OR (time, id) < ($3, $4))
ORDER BY time DESC, id DESC
LIMIT $5`
)

// Qualification changes.
const (
	// qLatestQualifications locks the customers $2 and returns the latest
	// stored qualification of each (NULLs for a customer with none).
	qLatestQualifications = `SELECT c.id, q.budget, q.authority, q.need, q.decision_time
FROM (SELECT id FROM customers WHERE tenant_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR NO KEY UPDATE) c
LEFT JOIN LATERAL (
    SELECT budget, authority, need, decision_time FROM qualification_changes
    WHERE tenant_id = $1 AND customer_id = c.id
    ORDER BY occurred_at DESC, id DESC LIMIT 1
) q ON true`
	qInsertQualificationChanges = `INSERT INTO qualification_changes (tenant_id, id, customer_id, occurred_at, budget, authority, need, decision_time)
SELECT $1, u.* FROM unnest($2::uuid[], $3::uuid[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[],
    $8::timestamptz[]) AS u
ON CONFLICT (tenant_id, id) DO NOTHING`
)

// Erasing a customer (DeleteCustomer): its ledger, grade and grade changes,
// which have no foreign keys; its qualification changes go by cascade.
const (
	qDeleteCustomerLedger       = `DELETE FROM scoring_ledger WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteCustomerGrade        = `DELETE FROM customer_grades WHERE tenant_id = $1 AND customer_id = $2`
	qDeleteCustomerGradeChanges = `DELETE FROM grade_changes WHERE tenant_id = $1 AND customer_id = $2`
)
