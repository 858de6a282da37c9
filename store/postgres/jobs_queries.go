package postgres

// Job statements (jobs.go). $1 is the tenant id and $2 the job name in every one.
const (
	// qEnsureJob creates a job the store has not seen, at its first slot.
	qEnsureJob = `INSERT INTO jobs (tenant_id, name, slot) VALUES ($1, $2, $3) ON CONFLICT (tenant_id, name) DO NOTHING`
	// qClaimJob leases the job if it is due at $3 and not leased, or its
	// lease expired; a job another transaction has locked (claiming or
	// completing it) is skipped, not waited for.
	qClaimJob = `WITH due AS (
    SELECT tenant_id, name FROM jobs
    WHERE tenant_id = $1 AND name = $2 AND slot <= $3 AND (lease_token IS NULL OR lease_expires <= $3)
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j SET lease_owner = $4, lease_token = $5, lease_claimed = $3, lease_expires = $6, attempt = j.attempt + 1
FROM due WHERE j.tenant_id = due.tenant_id AND j.name = due.name
RETURNING j.slot, j.attempt`
	qExtendJobLease = `UPDATE jobs SET lease_expires = $4 WHERE tenant_id = $1 AND name = $2 AND lease_token = $3 RETURNING 1`
	// qCompleteJob moves the job to its next slot ($4), logs the run of
	// slot $5 and deletes the job's log entries before $10, only while
	// lease $3 holds it.
	qCompleteJob = `WITH done AS (
    UPDATE jobs SET slot = $4, lease_owner = '', lease_token = NULL, lease_claimed = NULL, lease_expires = NULL, attempt = 0
    WHERE tenant_id = $1 AND name = $2 AND lease_token = $3 AND slot = $5
    RETURNING tenant_id, name
), pruned AS (
    DELETE FROM job_runs r USING done WHERE r.tenant_id = done.tenant_id AND r.name = done.name AND r.slot < $10
)
INSERT INTO job_runs (tenant_id, name, slot, owner, attempt, claimed, finished)
SELECT tenant_id, name, $5, $6, $7, $8, $9 FROM done
RETURNING 1`
	qListJobRuns = `SELECT name, slot, owner, attempt, claimed, finished FROM job_runs WHERE tenant_id = $1 ORDER BY name, slot`
)
