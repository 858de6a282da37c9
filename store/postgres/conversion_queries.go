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
)
