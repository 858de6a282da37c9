package postgres

// The statements of the value models and assessments (assess.go). As in
// queries.go, $1 is the tenant id in every tenant-scoped statement.

// Purchase summaries for fitting.
const (
	// qLastPurchase is the tenant's latest purchase time (-infinity or NULL
	// without one), from the end of customers_last_purchase_time.
	qLastPurchase = `SELECT max(last_purchase_time) FROM customers WHERE tenant_id = $1`

	// qSummariesFromDays aggregates purchase_days up to the day $2: each
	// customer's first and last day, number of days, total and first
	// day's spend.
	qSummariesFromDays = `SELECT customer_id, min(day), max(day), count(*), sum(amount)::bigint,
    (array_agg(amount ORDER BY day))[1]
FROM purchase_days
WHERE tenant_id = $1 AND day <= $2
GROUP BY customer_id`

	// qSummariesFromStats reads the same summaries from the customers'
	// PurchaseStats, which are all of purchase_days: equal to
	// qSummariesFromDays when no purchase day is after the end.
	qSummariesFromStats = `SELECT id, (first_purchase_time AT TIME ZONE 'UTC')::date, (last_purchase_time AT TIME ZONE 'UTC')::date,
    purchase_days, total_spend, first_day_spend
FROM customers
WHERE tenant_id = $1 AND purchase_days > 0`

	// qPurchaseDaysBetween counts each customer's purchase days in ($2, $3].
	qPurchaseDaysBetween = `SELECT customer_id, count(*) FROM purchase_days
WHERE tenant_id = $1 AND day > $2 AND day <= $3
GROUP BY customer_id`
)

// Value models.
const (
	// qSaveValueModel stores the next version: the latest plus one. Two
	// concurrent saves compute the same version; the loser's unique
	// violation makes it try again.
	qSaveValueModel = `INSERT INTO value_models (tenant_id, version, fit_time, observation_end, model)
SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4 FROM value_models WHERE tenant_id = $1
RETURNING version`

	qGetValueModel = `SELECT version, fit_time, observation_end, model FROM value_models
WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1`
)

// Assessments.
const (
	// inputColumns are the columns scanInput reads: the customer, its
	// PurchaseStats, its interactions in the recent window [$now-30d,
	// $now) and the baseline window [$now-120d, $now-30d), and its stored
	// stage.
	inputColumns = inputEventColumns + `, coalesce(a.stage, 0)::int`
	// inputEventColumns are inputColumns but the stored stage.
	inputEventColumns = `c.id, c.kind, c.create_time, c.first_purchase_time, c.last_purchase_time, c.purchase_days, c.orders,
    c.refunds, c.total_spend, c.first_day_spend, c.refund_total, c.total_margin, c.median_gap_days, c.last_gap_days,
    coalesce(i.recent, 0), coalesce(i.baseline, 0)`

	// qInputsOf reads the inputs of the customers $2 ($3 = $now-120d,
	// $4 = $now-30d, $5 = $now): their interactions by
	// interactions_customer, a range per customer. The window is written
	// as row comparisons on (customer_id, occurred_at), which only
	// interactions_customer can serve: a plan on interactions_occurred_at
	// would scan the tenant's whole window once per customer, and the
	// planner, whose statistics lag behind a tenant that is loading fast,
	// costs both the same (seen: 1.3 s instead of 10 ms for a batch of
	// 1,000 customers of a tenant with 20,000 fresh interactions). The
	// stored stage is looked up per customer (LATERAL … LIMIT 1) in the
	// primary key of the tenant's partition of assessments: joined to the
	// partitioned table, a plan on stale statistics read the tenant's
	// whole partition (TestResolvePlanWithStaleStatistics).
	qInputsOf = `SELECT ` + inputColumns + `
FROM customers c
LEFT JOIN LATERAL (
    SELECT stage FROM assessments WHERE tenant_id = $1 AND customer_id = c.id LIMIT 1
) a ON true
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE occurred_at >= $4) AS recent, count(*) FILTER (WHERE occurred_at < $4) AS baseline
    FROM interactions
    WHERE tenant_id = $1 AND customer_id = c.id AND (customer_id, occurred_at) >= (c.id, $3) AND (customer_id, occurred_at) < (c.id, $5)
) i ON true
WHERE c.tenant_id = $1 AND c.id = ANY($2::uuid[])`

	// qInputsAll reads the inputs of every customer of the tenant ($2 =
	// $now-120d, $3 = $now-30d, $4 = $now) in one pass, in id order: the
	// tenant's interactions of the last 120 days are counted by one GROUP
	// BY and merged with customers_pkey. The stored stage is not read (0):
	// the write of the re-assessment records the transitions itself, under
	// the rows' locks (qPutAssessments), and reading it would read the
	// whole of assessments, about two fifths of this statement's time. Run
	// after qMergePlan.
	qInputsAll = `SELECT ` + inputEventColumns + `, 0::int
FROM customers c
LEFT JOIN (
    SELECT customer_id, count(*) FILTER (WHERE occurred_at >= $3) AS recent, count(*) FILTER (WHERE occurred_at < $3) AS baseline
    FROM interactions
    WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $4
    GROUP BY customer_id
) i ON i.customer_id = c.id
WHERE c.tenant_id = $1
ORDER BY c.id`

	// qPointPlan sets up a read of given customers' rows by their keys
	// (qInputsOf, qSegmentFacts): the statements' generic plans, each
	// customer looked up by its indexes (TestPlans and TestSegmentPlans
	// check the generic plans too), are used from the first execution.
	// Left to itself, PostgreSQL plans such a prepared statement again at
	// every execution, because a plan made for the actual few ids always
	// costs less than the generic one; yet planning cost more than
	// executing: qInputsOf 0.35-0.5 ms against 0.1 ms, qSegmentFacts
	// 0.7-0.9 ms against 0.25 ms, for one customer of 100,000. Only reads
	// use it: a write of a batch planned generically may join its arrays
	// badly (see RecordTransactions). Nor does ingestion's follow-up use
	// it: there the same reads, generic, made RecordTransactions slower
	// (SegmentWatchLatency, 4,000 orders, interleaved: the call's p50
	// 9.5 and 7.7 ms before, 12.5 and 11.3 ms with them).
	qPointPlan = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

	// qMergePlan sets up the transaction of qInputsAll. Its plan must merge
	// the inputs in customer order, reading customers by their primary
	// key: memory of a row, not of a tenant, however large the tenant, and
	// batches of consecutive ids, whose assessments are neighbours in the
	// table and its primary key when they are written back. The planner, left to itself, prefers to
	// hash the million rows of one side, spilling to disk past work_mem.
	qMergePlan = `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_bitmapscan', 'off', true),
    set_config('enable_seqscan', 'off', true)`

	// qBulkWrite sets up the transaction of PutAssessments. Its plan must
	// look each customer up in assessments_pkey, in the order of the batch
	// (sorted by id): that is the order the rows are locked in, so
	// concurrent calls over overlapping customers queue instead of
	// deadlocking, and it is far cheaper than the alternative the planner
	// picks for a batch of more than about 1% of a tenant, which reads the
	// whole table (the planner costs the random reads of cached pages as
	// if they came from disk). Without sequential and bitmap scans the
	// only plan left is that nested loop. The commit need not wait for the
	// WAL to reach the disk: a crash can lose only the latest assessments,
	// with their transitions, which the next re-assessment derives again.
	qBulkWrite = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true),
    set_config('synchronous_commit', 'off', true)`

	// qPutAssessments replaces the assessments of the customers $2 with the
	// columns $3..$19 and records a lifecycle transition for each whose
	// stage changed. The UPDATE sets prior_stage to the row's stage before
	// it, under the row's lock, so concurrent writers of one customer each
	// see the other's stage and no change is recorded twice or lost. A
	// customer without a row (deleted meanwhile) is skipped. The rows are
	// the arrays' elements by subscript, not unnest of the 18 arrays,
	// which stores each array's elements in a tuple store of its own
	// before joining them (a SELECT of 5,000 rows of 18 such columns, on
	// a loaded machine: 40–80 ms by unnest, 2–40 ms by subscript; the
	// whole statement takes 200–500 ms there). The ids are
	// sorted (prepareAssessments): the range between the first and the
	// last bounds the scan of assessments_pkey, which the planner may
	// otherwise start at the tenant's first row and merge — for the batches
	// of a whole tenant's re-assessment, which come in id order, a scan
	// that grows with each batch (seen: 35,000 rows read for a batch of
	// 5,000 at the seventh batch of a tenant of 100,000).
	qPutAssessments = `WITH u AS (
    UPDATE assessments a SET assess_time = u.assess_time, model_version = u.model_version, r = u.r, f = u.f, m = u.m,
        segment = u.segment, historical_value = u.historical_value, p_alive = u.p_alive,
        expected_purchases = u.expected_purchases, expected_spend = u.expected_spend,
        predicted_value = u.predicted_value, value_at_risk = u.value_at_risk, churn_level = u.churn_level,
        churn_reasons = u.churn_reasons, stage = u.stage, prior_stage = a.stage, silence_days = u.silence_days,
        cadence_days = u.cadence_days
    FROM (
        SELECT ($2::uuid[])[i] AS customer_id, ($3::timestamptz[])[i] AS assess_time, ($4::bigint[])[i] AS model_version,
            ($5::smallint[])[i] AS r, ($6::smallint[])[i] AS f, ($7::smallint[])[i] AS m, ($8::smallint[])[i] AS segment,
            ($9::bigint[])[i] AS historical_value, ($10::float8[])[i] AS p_alive, ($11::float8[])[i] AS expected_purchases,
            ($12::bigint[])[i] AS expected_spend, ($13::bigint[])[i] AS predicted_value, ($14::bigint[])[i] AS value_at_risk,
            ($15::smallint[])[i] AS churn_level, ($16::int[])[i] AS churn_reasons, ($17::smallint[])[i] AS stage,
            ($18::int[])[i] AS silence_days, ($19::float8[])[i] AS cadence_days
        FROM generate_subscripts($2::uuid[], 1) AS i
    ) u
    WHERE a.tenant_id = $1 AND a.customer_id = u.customer_id
        AND a.customer_id BETWEEN $2[1] AND $2[cardinality($2)]
    RETURNING a.customer_id, a.prior_stage, a.stage, a.assess_time
)
INSERT INTO lifecycle_transitions (tenant_id, customer_id, from_stage, to_stage, at)
SELECT $1, customer_id, prior_stage, stage, assess_time FROM u WHERE prior_stage <> stage`

	qGetAssessment = `SELECT ` + assessmentColumns + ` FROM assessments a
WHERE a.tenant_id = $1 AND a.customer_id = $2 AND a.assess_time IS NOT NULL`

	// qAssessmentStats groups the assessed customers by everything the
	// distributions count; assess.go adds the groups up.
	qAssessmentStats = `SELECT churn_level, churn_reasons, stage, r, f, segment, count(*),
    sum(predicted_value)::bigint, sum(value_at_risk)::bigint
FROM assessments
WHERE tenant_id = $1 AND assess_time IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6`

	qTransitionStats = `SELECT from_stage, to_stage, count(*) FROM lifecycle_transitions
WHERE tenant_id = $1
GROUP BY 1, 2`
)

// qListTenants lists every tenant, in the authentication scope (the only
// one that sees more than one tenant).
const qListTenants = `SELECT id, name, create_time FROM tenants ORDER BY create_time, id`

// The statements of RewriteAssessments (rewrite.go); the assessment_rewrite_
// functions are migrations/0014_assessment_partitions.sql's.
const (
	// qRewriteWanted: $1 the tenant, $2 the rewrite minimum. The count
	// stops at the minimum.
	qRewriteWanted = `SELECT assessment_partition($1::uuid) IS NOT NULL
    OR (SELECT count(*) FROM (SELECT FROM customers WHERE tenant_id = $1 LIMIT $2) c) >= $2`
	qLockTimeout    = `SELECT set_config('lock_timeout', $1, true)`
	qRewriteBegin   = `SELECT assessment_rewrite_begin()`
	qRewritePrepare = `SELECT assessment_rewrite_prepare($1)`
	qRewriteSwap    = `SELECT assessment_rewrite_swap($1)`
	qRewriteDrop    = `SELECT assessment_rewrite_drop($1)`
	qRewriteAbort   = `SELECT assessment_rewrite_abort($1)`
)
