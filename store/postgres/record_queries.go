package postgres

// The statements of an ingestion batch's follow-up (followup.go). As in
// queries.go, $1 is the tenant id.
const (
	// qAssessmentPlan is qBulkWrite without its asynchronous commit: the
	// follow-up's transaction holds the batch's events, whose commit must
	// reach the disk before the call returns. qResetPlan undoes it, for
	// the statements that follow in the transaction.
	qAssessmentPlan = `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`
	qResetPlan      = `SELECT set_config(name, reset_val, true) FROM pg_settings WHERE name IN ('enable_seqscan', 'enable_bitmapscan')`

	// qShareLogHead share-locks the tenant's log head to the commit:
	// batches of a tenant without dynamic segments take it together, and
	// an evaluation of segments (which locks it exclusively) waits for
	// them.
	qShareLogHead = `SELECT last_cursor FROM segment_log_heads WHERE tenant_id = $1 FOR SHARE`

	// qDynamicMembersOf lists the memberships of customers $2 in the
	// tenant's dynamic segments (by segment_members_customer).
	qDynamicMembersOf = `SELECT m.segment_id, m.customer_id FROM segment_members m
WHERE m.tenant_id = $1 AND m.customer_id = ANY($2::uuid[])
    AND m.segment_id IN (SELECT id FROM segments WHERE tenant_id = $1 AND kind = 'dynamic')`
)
