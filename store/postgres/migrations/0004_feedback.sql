-- Feedback: complaints, suggestions, praise, questions, ratings and NPS
-- answers, the complaint workflow's transitions, and the keyword rules that
-- derive topics. The conventions of 0001_init.sql and 0003_security.sql
-- hold: tenant_id leads every key and index, text that is sorted or
-- compared is "C", every table has row-level security enabled and forced
-- with the fail-closed tenant policy, and the service role gets its
-- privileges from the default privileges of 0003.

CREATE TABLE feedback (
    tenant_id    uuid NOT NULL,
    id           uuid NOT NULL,
    external_id  text COLLATE "C" NOT NULL, -- the source system's id: submitting is idempotent
    customer_id  uuid NOT NULL,
    kind         text COLLATE "C" NOT NULL,
    score        smallint,                  -- rating 1-5 or NPS 0-10; NULL for other kinds
    channel      text NOT NULL DEFAULT '',
    topic        text COLLATE "C" NOT NULL DEFAULT '',
    topic_source text NOT NULL DEFAULT '',  -- '' | client | rule
    body         text NOT NULL DEFAULT '',
    occurred_at  timestamptz NOT NULL,
    create_time  timestamptz NOT NULL,
    update_time  timestamptz NOT NULL,
    status       text COLLATE "C" NOT NULL DEFAULT '', -- complaints only
    resolve_time timestamptz,               -- the current resolution's time
    version      bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, external_id),
    -- A customer's erasure erases its feedback.
    FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE,
    CHECK (kind IN ('complaint', 'suggestion', 'praise', 'question', 'rating', 'nps')),
    CHECK (CASE kind WHEN 'rating' THEN score BETWEEN 1 AND 5
                     WHEN 'nps' THEN score BETWEEN 0 AND 10
                     ELSE score IS NULL END),
    CHECK (CASE kind WHEN 'complaint' THEN status IN ('open', 'in_progress', 'resolved_justified', 'resolved_unjustified', 'withdrawn')
                     ELSE status = '' END),
    CHECK ((resolve_time IS NOT NULL) = (status IN ('resolved_justified', 'resolved_unjustified')))
);
-- ListFeedback, newest first: per customer, and for the whole tenant.
CREATE INDEX feedback_customer ON feedback (tenant_id, customer_id, occurred_at DESC, id DESC);
CREATE INDEX feedback_occurred ON feedback (tenant_id, occurred_at DESC, id DESC);
-- Summaries read what occurred in a period (feedback_occurred) or was
-- resolved in it.
CREATE INDEX feedback_resolved ON feedback (tenant_id, resolve_time) WHERE resolve_time IS NOT NULL;
-- Open complaints per customer, for churn warnings.
CREATE INDEX feedback_unresolved ON feedback (tenant_id, customer_id) WHERE status IN ('open', 'in_progress');

-- Every step of a complaint's workflow: who (the API key id) and when.
CREATE TABLE complaint_transitions (
    tenant_id   uuid NOT NULL,
    feedback_id uuid NOT NULL,
    seq         int NOT NULL, -- 1, 2, ... per complaint
    from_status text NOT NULL,
    to_status   text NOT NULL,
    note        text NOT NULL DEFAULT '',
    actor       text NOT NULL DEFAULT '',
    request_id  text COLLATE "C" NOT NULL DEFAULT '',
    time        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, feedback_id, seq),
    FOREIGN KEY (tenant_id, feedback_id) REFERENCES feedback (tenant_id, id) ON DELETE CASCADE
);

-- Keyword rules that derive a topic from feedback text, one per topic.
CREATE TABLE topic_rules (
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    topic       text COLLATE "C" NOT NULL,
    keywords    text[] NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL,
    version     bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, topic)
);

ALTER TABLE feedback ENABLE ROW LEVEL SECURITY;
ALTER TABLE feedback FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON feedback
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

ALTER TABLE complaint_transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE complaint_transitions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON complaint_transitions
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

ALTER TABLE topic_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE topic_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON topic_rules
    USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
