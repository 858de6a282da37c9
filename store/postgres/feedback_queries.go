package postgres

// Feedback statements (feedback.go). $1 is the tenant id in every one.

// feedbackColumns are the columns scanFeedback reads, in its order.
const feedbackColumns = `id, external_id, customer_id, kind, score, channel, topic, topic_source, body,
    occurred_at, create_time, update_time, status, resolve_time, version`

// transitionColumns are the columns scanTransition reads, after feedback_id.
const transitionColumns = `feedback_id, seq, from_status, to_status, note, actor, request_id, time`

const (
	// qSubmitFeedback inserts feedback ($2..$16) for the customer $4 if it
	// exists, unless the external id ($3) is known. It returns nothing
	// when it inserted nothing; qFeedbackByExternal then finds the known
	// feedback, or nothing (the customer does not exist).
	qSubmitFeedback = `INSERT INTO feedback (tenant_id, id, external_id, customer_id, kind, score, channel, topic,
    topic_source, body, occurred_at, create_time, update_time, status, resolve_time, version)
SELECT $1, $2, $3, c.id, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1
FROM customers c WHERE c.tenant_id = $1 AND c.id = $4
ON CONFLICT (tenant_id, external_id) DO NOTHING
RETURNING ` + feedbackColumns
	qFeedbackByExternal            = `SELECT ` + feedbackColumns + ` FROM feedback WHERE tenant_id = $1 AND external_id = $2`
	qTransitionsByFeedbackExternal = `SELECT ` + transitionColumns + ` FROM complaint_transitions
WHERE tenant_id = $1 AND feedback_id = (SELECT id FROM feedback WHERE tenant_id = $1 AND external_id = $2)
ORDER BY seq`

	qGetFeedback   = `SELECT ` + feedbackColumns + ` FROM feedback WHERE tenant_id = $1 AND id = $2`
	qTransitionsOf = `SELECT ` + transitionColumns + ` FROM complaint_transitions
WHERE tenant_id = $1 AND feedback_id = ANY($2::uuid[])
ORDER BY feedback_id, seq`

	// The two listings, newest first, as range scans of feedback_customer
	// ($2 the customer) and feedback_occurred (the same parameters without
	// $2). The keyset ($8, $9) is (infinity, the largest uuid) on the first
	// page; the other conditions filter the scan: $3 kinds and $4 statuses
	// (empty: any), $5 topic ('': any), [$6, $7) the occurred_at range
	// (-infinity and infinity when open), $10 the limit.
	qListFeedbackOfCustomer = `SELECT ` + feedbackColumns + ` FROM feedback
WHERE tenant_id = $1 AND customer_id = $2 AND (occurred_at, id) < ($8, $9::uuid)
    AND (cardinality($3::text[]) = 0 OR kind = ANY($3::text[]))
    AND (cardinality($4::text[]) = 0 OR status = ANY($4::text[]))
    AND ($5 = '' OR topic = $5) AND occurred_at >= $6 AND occurred_at < $7
ORDER BY occurred_at DESC, id DESC
LIMIT $10`
	qListFeedback = `SELECT ` + feedbackColumns + ` FROM feedback
WHERE tenant_id = $1 AND (occurred_at, id) < ($7, $8::uuid)
    AND (cardinality($2::text[]) = 0 OR kind = ANY($2::text[]))
    AND (cardinality($3::text[]) = 0 OR status = ANY($3::text[]))
    AND ($4 = '' OR topic = $4) AND occurred_at >= $5 AND occurred_at < $6
ORDER BY occurred_at DESC, id DESC
LIMIT $9`

	// qAppendTransition moves complaint $2 from version $3 to the next:
	// status $4, the resolve time $5 (NULL unless resolved), update time
	// $6; and records the transition ($7 seq, $8 from, $4 to, $9 note, $10
	// actor, $11 request id, $6 time). It returns the seq, or nothing when
	// the complaint is absent or at another version.
	qAppendTransition = `WITH moved AS (
    UPDATE feedback SET status = $4, resolve_time = $5, update_time = $6, version = version + 1
    WHERE tenant_id = $1 AND id = $2 AND version = $3 AND kind = 'complaint'
    RETURNING id
)
INSERT INTO complaint_transitions (tenant_id, feedback_id, seq, from_status, to_status, note, actor, request_id, time)
SELECT $1, id, $7, $8, $4, $9, $10, $11, $6 FROM moved
RETURNING seq`

	// qFeedbackFacts reads what summaries need of the feedback that
	// occurred in [$2, $3) or was resolved in it: a BitmapOr of
	// feedback_occurred and feedback_resolved.
	qFeedbackFacts = `SELECT customer_id, kind, coalesce(score, 0), topic, status, occurred_at, resolve_time FROM feedback
WHERE tenant_id = $1 AND ((occurred_at >= $2 AND occurred_at < $3) OR (resolve_time >= $2 AND resolve_time < $3))`
	qFeedbackFactsOf = qFeedbackFacts + ` AND customer_id = ANY($4::uuid[])`

	qFeedbackOfCustomer    = `SELECT ` + feedbackColumns + ` FROM feedback WHERE tenant_id = $1 AND customer_id = $2`
	qTransitionsOfCustomer = `SELECT ` + transitionColumns + ` FROM complaint_transitions
WHERE tenant_id = $1 AND feedback_id IN (SELECT id FROM feedback WHERE tenant_id = $1 AND customer_id = $2)
ORDER BY feedback_id, seq`

	// Open complaints per customer, from the partial index feedback_unresolved.
	qOpenComplaintsOf = `SELECT customer_id, count(*) FROM feedback
WHERE tenant_id = $1 AND customer_id = ANY($2::uuid[]) AND status IN ('open', 'in_progress')
GROUP BY customer_id`
	qOpenComplaints = `SELECT customer_id, count(*) FROM feedback
WHERE tenant_id = $1 AND status IN ('open', 'in_progress')
GROUP BY customer_id`
)

// Topic rules.
const (
	topicRuleColumns = `topic, keywords, create_time, update_time, version`
	qCreateTopicRule = `INSERT INTO topic_rules (tenant_id, topic, keywords, create_time, update_time, version)
VALUES ($1, $2, $3, $4, $5, 1)
ON CONFLICT (tenant_id, topic) DO NOTHING
RETURNING ` + topicRuleColumns
	qGetTopicRule   = `SELECT ` + topicRuleColumns + ` FROM topic_rules WHERE tenant_id = $1 AND topic = $2`
	qListTopicRules = `SELECT ` + topicRuleColumns + ` FROM topic_rules WHERE tenant_id = $1 ORDER BY topic`
	// qUpdateTopicRule: $3 keywords, $4 update time, $5 expected version.
	qUpdateTopicRule = `UPDATE topic_rules SET keywords = $3, update_time = $4, version = version + 1
WHERE tenant_id = $1 AND topic = $2 AND version = $5
RETURNING ` + topicRuleColumns
	qTopicRuleVersion = `SELECT version FROM topic_rules WHERE tenant_id = $1 AND topic = $2`
	qDeleteTopicRule  = `DELETE FROM topic_rules WHERE tenant_id = $1 AND topic = $2`
)
