package postgres

// Lead conversion statements (conversion.go). $1 is the tenant id in every one.
const (
	// qSetLeadOutcomes upserts outcomes from parallel arrays; customers
	// that do not exist fail the foreign key (mapped to ErrNotFound).
	qSetLeadOutcomes = `INSERT INTO lead_outcomes (tenant_id, customer_id, result, occurred_at)
SELECT $1, u.customer_id, u.result, u.occurred_at
FROM unnest($2::uuid[], $3::text[], $4::timestamptz[]) AS u(customer_id, result, occurred_at)
ON CONFLICT (tenant_id, customer_id) DO UPDATE SET result = excluded.result, occurred_at = excluded.occurred_at`
	qLeadOutcomesAll = `SELECT customer_id, result, occurred_at FROM lead_outcomes WHERE tenant_id = $1`
	qLeadOutcomes    = `SELECT customer_id, result, occurred_at FROM lead_outcomes WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])`
	// Qualification history through qualification_changes_customer.
	qualificationColumns = `id, customer_id, occurred_at, budget, authority, need, decision_time`
	qQualificationsAll   = `SELECT ` + qualificationColumns + ` FROM qualification_changes WHERE tenant_id = $1
ORDER BY customer_id, occurred_at, id`
	qQualifications = `SELECT ` + qualificationColumns + ` FROM qualification_changes WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[])
ORDER BY customer_id, occurred_at, id`

	qSaveConversionState = `INSERT INTO conversion_models (tenant_id, scoring_model_id, status, attempt_time, state)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, scoring_model_id) DO UPDATE SET status = excluded.status, attempt_time = excluded.attempt_time, state = excluded.state`
	qGetConversionState   = `SELECT state FROM conversion_models WHERE tenant_id = $1 AND scoring_model_id = $2`
	qListConversionStates = `SELECT state FROM conversion_models WHERE tenant_id = $1 ORDER BY scoring_model_id`

	qDeleteLeadScores = `DELETE FROM lead_conversion_scores WHERE tenant_id = $1 AND scoring_model_id = $2`
	// qInsertLeadScores inserts from parallel arrays the scores of
	// customers that still exist (a join, so a concurrent erasure skips
	// the row instead of failing the batch).
	qInsertLeadScores = `INSERT INTO lead_conversion_scores (tenant_id, scoring_model_id, customer_id, probability, band, fit_id, score_time)
SELECT $1, $2, u.customer_id, u.probability, u.band, u.fit_id, u.score_time
FROM unnest($3::uuid[], $4::float8[], $5::text[], $6::text[], $7::timestamptz[]) AS u(customer_id, probability, band, fit_id, score_time)
JOIN customers c ON c.tenant_id = $1 AND c.id = u.customer_id`
	// TopLeadScores through lead_conversion_scores_rank; a later page
	// bounds the index range with probability <= $4 and filters the tie.
	leadScoreColumns = `customer_id, probability, band, fit_id, score_time`
	qTopLeadScores   = `SELECT ` + leadScoreColumns + ` FROM lead_conversion_scores WHERE tenant_id = $1 AND scoring_model_id = $2
ORDER BY probability DESC, customer_id LIMIT $3`
	qTopLeadScoresAfter = `SELECT ` + leadScoreColumns + ` FROM lead_conversion_scores WHERE tenant_id = $1 AND scoring_model_id = $2
  AND probability <= $4 AND (probability < $4 OR customer_id > $5)
ORDER BY probability DESC, customer_id LIMIT $3`
)
