package postgres

// The statements of action tables (action.go). $1 is the tenant id.
const (
	qGetActionTable = `SELECT version, rules, update_time FROM action_tables WHERE tenant_id = $1`
	// qSaveActionTable writes version $2 if the stored one is $2 - 1 (none
	// when $2 is 1); no row is returned otherwise.
	qSaveActionTable = `INSERT INTO action_tables (tenant_id, version, rules, update_time)
SELECT $1, $2, $3, $4 WHERE $2::bigint = 1 OR EXISTS (SELECT FROM action_tables WHERE tenant_id = $1)
ON CONFLICT (tenant_id) DO UPDATE SET version = excluded.version, rules = excluded.rules, update_time = excluded.update_time
WHERE action_tables.version = excluded.version - 1
RETURNING version`
)
