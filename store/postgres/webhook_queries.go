package postgres

// The statements of webhooks (webhook.go). $1 is the tenant id in every one.

// Destinations and subscriptions.
const (
	qCreateWebhookDestination = `INSERT INTO webhook_destinations (tenant_id, id, url, allow_private_network, description, create_time)
VALUES ($1, $2, $3, $4, $5, $6)`
	qListWebhookDestinations = `SELECT id, url, allow_private_network, description, create_time
FROM webhook_destinations WHERE tenant_id = $1 ORDER BY url`
	qDeleteWebhookDestination = `DELETE FROM webhook_destinations WHERE tenant_id = $1 AND id = $2 RETURNING 1`

	webhookSubColumns = `s.id, s.destination_id, d.url, s.event_types, s.segment_ids, s.description, s.disabled, s.secret,
    s.version, s.create_time, s.update_time`
	webhookSubFrom = ` FROM webhook_subscriptions s
JOIN webhook_destinations d ON d.tenant_id = s.tenant_id AND d.id = s.destination_id`
	qCreateWebhookSubscription = `INSERT INTO webhook_subscriptions (tenant_id, id, destination_id, event_types, segment_ids,
    description, disabled, secret, version, create_time, update_time)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9)`
	// qStartWebhookFeed starts the tenant's feed, if it has none, at the
	// current end of the segment log and of the committed grade changes.
	qStartWebhookFeed = `INSERT INTO webhook_feeds (tenant_id, segment_cursor, grade_horizon)
SELECT $1, coalesce((SELECT last_cursor FROM segment_log_heads WHERE tenant_id = $1), 0), pg_snapshot_xmin(pg_current_snapshot())
ON CONFLICT (tenant_id) DO NOTHING`
	qGetWebhookSubscription   = `SELECT ` + webhookSubColumns + webhookSubFrom + ` WHERE s.tenant_id = $1 AND s.id = $2`
	qListWebhookSubscriptions = `SELECT ` + webhookSubColumns + webhookSubFrom + ` WHERE s.tenant_id = $1 ORDER BY s.create_time, s.id`
	// qUpdateWebhookSubscription returns the stored version (NULL: no
	// such subscription) and whether it was at $10 and so updated.
	qUpdateWebhookSubscription = `WITH cur AS (
    SELECT version FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2
), upd AS (
    UPDATE webhook_subscriptions SET destination_id = $3, event_types = $4, segment_ids = $5, description = $6,
        disabled = $7, secret = $8, version = version + 1, update_time = $9
    WHERE tenant_id = $1 AND id = $2 AND version = $10
    RETURNING 1
)
SELECT (SELECT version FROM cur), EXISTS (SELECT FROM upd)`
	// qDeleteWebhookSubscription deletes at version $3 (any if 0); the
	// deliveries and their log go with it (ON DELETE CASCADE).
	qDeleteWebhookSubscription = `WITH cur AS (
    SELECT version FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2
), del AS (
    DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2 AND ($3 = 0 OR version = $3)
    RETURNING 1
)
SELECT (SELECT version FROM cur), EXISTS (SELECT FROM del)`
)

// The feed.
const (
	// qLockWebhookFeed takes the tenant's feed unless another transaction
	// holds it.
	qLockWebhookFeed = `SELECT segment_cursor, grade_horizon::text FROM webhook_feeds WHERE tenant_id = $1
FOR UPDATE SKIP LOCKED`
	qFeedSegmentEvents = `SELECT ` + eventColumns + ` FROM segment_events WHERE tenant_id = $1 AND cursor > $2
ORDER BY cursor LIMIT $3`
	// qGradeHorizon is the oldest transaction still running: every one
	// below it has ended, and its changes are visible to the statements
	// that follow.
	qGradeHorizon = `SELECT pg_snapshot_xmin(pg_current_snapshot())::text`
	// qFeedGradeChanges reads the changes of transactions at or above the
	// horizon $2 not fed yet (grade_changes_feed, webhook_feed_grades_pkey).
	qFeedGradeChanges = `SELECT g.feed_xid::text, g.id, g.customer_id, g.from_grade, g.to_grade, g.time, g.policy_version, g.cause, g.reason
FROM grade_changes g
WHERE g.tenant_id = $1 AND g.feed_xid >= $2::text::xid8
    AND NOT EXISTS (SELECT FROM webhook_feed_grades f WHERE f.tenant_id = $1 AND f.change_id = g.id)
ORDER BY g.feed_xid, g.id LIMIT $3`
	qMarkGradesFed = `INSERT INTO webhook_feed_grades (tenant_id, change_id, feed_xid)
SELECT $1, u.id, u.xid::xid8 FROM unnest($2::uuid[], $3::text[]) AS u(id, xid)`
	// qMoveGradeHorizon moves the horizon to $2 and forgets the changes
	// fed below it.
	qMoveGradeHorizon = `WITH moved AS (
    UPDATE webhook_feeds SET grade_horizon = $2::text::xid8 WHERE tenant_id = $1
)
DELETE FROM webhook_feed_grades WHERE tenant_id = $1 AND feed_xid < $2::text::xid8`
	qInsertWebhookDeliveries = `INSERT INTO webhook_deliveries (tenant_id, id, subscription_id, event_id, event_type, event_time,
    payload, state, attempts, next_attempt_time, create_time)
SELECT $1, u.id, u.subscription_id, u.event_id, u.event_type, u.event_time, u.payload, 'pending', 0, u.next_attempt_time, u.create_time
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::timestamptz[], $9::timestamptz[])
    AS u(id, subscription_id, event_id, event_type, event_time, payload, next_attempt_time, create_time)
ON CONFLICT (tenant_id, id) DO NOTHING`
	qMoveSegmentCursor = `UPDATE webhook_feeds SET segment_cursor = $2 WHERE tenant_id = $1`
)

// Deliveries.
const (
	// qClaimWebhookDeliveries claims the due pending deliveries ($2) of
	// enabled subscriptions, earliest first (webhook_deliveries_due),
	// skipping rows other claims or completions hold: each gets its next
	// attempt, token $4 and due time $5 (the lease's expiry).
	qClaimWebhookDeliveries = `WITH due AS (
    SELECT w.tenant_id, w.id FROM webhook_deliveries w
    JOIN webhook_subscriptions s ON s.tenant_id = w.tenant_id AND s.id = w.subscription_id
    WHERE w.tenant_id = $1 AND w.state = 'pending' AND w.next_attempt_time <= $2 AND NOT s.disabled
    ORDER BY w.next_attempt_time, w.id
    LIMIT $3
    FOR UPDATE OF w SKIP LOCKED
)
UPDATE webhook_deliveries w SET attempts = w.attempts + 1, lease_token = $4, next_attempt_time = $5
FROM due, webhook_subscriptions s, webhook_destinations d
WHERE w.tenant_id = due.tenant_id AND w.id = due.id
    AND s.tenant_id = w.tenant_id AND s.id = w.subscription_id AND d.tenant_id = s.tenant_id AND d.id = s.destination_id
RETURNING w.id, w.subscription_id, w.event_id, w.event_type, w.event_time, w.payload, w.attempts, w.create_time,
    d.url, d.allow_private_network, s.secret`
	// qCompleteWebhookAttempt sets the outcome of attempt $4 and logs it,
	// only while lease $3 holds the delivery.
	qCompleteWebhookAttempt = `WITH done AS (
    UPDATE webhook_deliveries SET state = $5, next_attempt_time = $6, lease_token = NULL
    WHERE tenant_id = $1 AND id = $2 AND lease_token = $3 AND attempts = $4
    RETURNING tenant_id, id
)
INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, start_time, status_code, error, latency_us)
SELECT tenant_id, id, $4, $7, $8, $9, $10 FROM done
RETURNING 1`
	webhookDeliveryColumns = `w.id, w.event_id, w.event_type, w.event_time, w.payload, w.state, w.attempts, w.next_attempt_time, w.create_time`
	// qListWebhookDeliveries reads a page of a subscription's log, newest
	// first, strictly after ($3, $4) (webhook_deliveries_subscription),
	// each delivery with its attempts as arrays in attempt order.
	qListWebhookDeliveries = `SELECT ` + webhookDeliveryColumns + `,
    coalesce(a.attempt, '{}'), coalesce(a.start_time, '{}'), coalesce(a.status_code, '{}'), coalesce(a.error, '{}'), coalesce(a.latency_us, '{}')
FROM webhook_deliveries w
LEFT JOIN LATERAL (
    SELECT array_agg(attempt ORDER BY attempt) AS attempt, array_agg(start_time ORDER BY attempt) AS start_time,
        array_agg(status_code ORDER BY attempt) AS status_code, array_agg(error ORDER BY attempt) AS error,
        array_agg(latency_us ORDER BY attempt) AS latency_us
    FROM webhook_attempts WHERE tenant_id = w.tenant_id AND delivery_id = w.id
) a ON true
WHERE w.tenant_id = $1 AND w.subscription_id = $2 AND (w.create_time, w.id) < ($3, $4)
ORDER BY w.create_time DESC, w.id DESC
LIMIT $5`
	// qPruneWebhookDeliveries deletes at most $3 finished deliveries
	// created before $2 (webhook_deliveries_finished); their attempts go
	// with them (ON DELETE CASCADE).
	qPruneWebhookDeliveries = `WITH old AS (
    SELECT tenant_id, id FROM webhook_deliveries
    WHERE tenant_id = $1 AND state <> 'pending' AND create_time < $2
    ORDER BY create_time, id LIMIT $3
    FOR UPDATE SKIP LOCKED
)
DELETE FROM webhook_deliveries w USING old WHERE w.tenant_id = old.tenant_id AND w.id = old.id`
)
