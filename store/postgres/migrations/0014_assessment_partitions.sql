-- A large tenant's assessments in a table of their own, rewritten whole.
--
-- The daily re-assessment of a tenant changes every customer's values, and
-- an UPDATE of a row whose indexed values change inserts into every index
-- of the table: at a million customers three random B-tree inserts a row
-- were a third of the job's CPU (docs/BENCHMARKS.md). A large tenant's
-- re-assessment therefore writes the way a bulk load does: every row
-- COPYed into a fresh table, its indexes built by sorting, and the table
-- swapped in as the tenant's partition of assessments under a short lock
-- (store/postgres/rewrite.go drives the steps; the functions below do what
-- needs the tables' owner).
--
-- assessments becomes a table partitioned by tenant. The existing table is
-- its default partition, assessments_shared, and keeps its rows, indexes
-- (assessments_pkey, assessments_predicted_value, assessments_value_at_risk),
-- foreign key, policy and privileges: every tenant's rows stay there until
-- its first rewrite. A rewritten tenant's partition is asmt_<tenant>_<tag>
-- (the tenant id's 32 hex digits, a random tag per rewrite), with a CHECK
-- of its tenant (so attaching it scans nothing), the same three indexes, a
-- foreign key to customers of its own (NOT VALID: its rows were checked
-- against customers when it was filled) and the tenant policy (from when
-- it is filled: COPY refuses a table with row-level security). The shared
-- partition gets a CHECK excluding each tenant that left it, so attaching
-- a tenant's next partition does not scan it either.
ALTER TABLE assessments RENAME TO assessments_shared;
CREATE TABLE assessments (LIKE assessments_shared INCLUDING DEFAULTS) PARTITION BY LIST (tenant_id);
ALTER TABLE assessments ADD CONSTRAINT assessments_all_pkey PRIMARY KEY (tenant_id, customer_id);
CREATE INDEX assessments_all_predicted_value ON assessments (tenant_id, predicted_value, customer_id);
CREATE INDEX assessments_all_value_at_risk ON assessments (tenant_id, value_at_risk, customer_id);
ALTER TABLE assessments ATTACH PARTITION assessments_shared DEFAULT;
ALTER TABLE assessments ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assessments USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON assessments TO potential_app;

-- What concurrent writers change of a tenant's stored assessments while
-- its rewrite runs: the customers whose row was inserted, updated or
-- deleted, noted by the triggers that assessment_rewrite_begin puts on the
-- tenant's current table and read (and cleared) by assessment_rewrite_swap.
CREATE TABLE assessment_rewrite_changes (
    tenant_id   uuid NOT NULL,
    customer_id uuid NOT NULL
);
CREATE INDEX assessment_rewrite_changes_tenant ON assessment_rewrite_changes (tenant_id);
ALTER TABLE assessment_rewrite_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessment_rewrite_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assessment_rewrite_changes USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

-- The rewrite running for a tenant, if any: its table and when it began.
-- assessment_rewrite_begin claims a tenant (or one whose rewrite began
-- more than an hour ago, which must have died), assessment_rewrite_swap
-- and assessment_rewrite_abort release it. A rewrite that finds its tenant
-- claimed is declined, and the caller updates in place meanwhile (its
-- writes are concurrent writes to the running rewrite, which they win).
CREATE TABLE assessment_rewrites (
    tenant_id uuid PRIMARY KEY,
    tbl       text NOT NULL,
    began     timestamptz NOT NULL
);
ALTER TABLE assessment_rewrites ENABLE ROW LEVEL SECURITY;
ALTER TABLE assessment_rewrites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON assessment_rewrites USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id());

-- assessment_rewrite_note is the triggers' function: it notes the row's
-- customer, as the writer (whose tenant scope the policy checks).
CREATE FUNCTION assessment_rewrite_note() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path FROM CURRENT
    AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO assessment_rewrite_changes VALUES (OLD.tenant_id, OLD.customer_id);
    ELSE
        INSERT INTO assessment_rewrite_changes VALUES (NEW.tenant_id, NEW.customer_id);
    END IF;
    RETURN NULL;
END
$fn$;

-- assessment_write_gate returns the key of the tenant's assessment write
-- gate, an advisory lock: every transaction that may update or delete the
-- tenant's stored assessments takes it shared as its first statement (the
-- store's qSetTenantWriting), and a tenant's first assessment_rewrite_swap
-- takes it exclusively before it deletes the tenant's rows from
-- assessments_shared. Without it a writer that holds a lock of assessments
-- (from an earlier statement of its transaction, or a statement begun
-- before the swap's lock request) and then waits for one of those deleted
-- rows closes a cycle with the swap, which waits for that writer's lock; the
-- deadlock detector ends whichever waited longer, often the swap. With it
-- such writers wait at the gate holding nothing, and the rewrite's other
-- steps take no row a writer waits for. Keys of two tenants may collide:
-- then each waits for the other's first swap too, nothing worse.
CREATE FUNCTION assessment_write_gate(tenant uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended('assessment_write_gate ' || tenant::text, 0);

-- assessment_partition returns the tenant's own partition of assessments,
-- NULL while its rows are in assessments_shared.
CREATE FUNCTION assessment_partition(tenant uuid) RETURNS regclass
    LANGUAGE sql STABLE
    SET search_path FROM CURRENT
    RETURN (
        SELECT i.inhrelid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'assessments'::regclass AND c.relname LIKE 'asmt\_' || replace(tenant::text, '-', '') || '\_%'
    );

-- assessment_rewrite_begin claims the current tenant for a rewrite and
-- returns the name of the table its next assessments are COPYed into,
-- created empty; NULL when another rewrite holds the tenant. It clears the
-- tenant's notes and puts the triggers that note concurrent changes on the
-- tenant's current table (its partition, or assessments_shared for its
-- rows alone). Tables of the tenant's that are neither its partition nor
-- the new one (left by a rewrite that died, or replaced by one whose drop
-- timed out) are dropped last: with the claim, none is in use.
CREATE FUNCTION assessment_rewrite_begin() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $fn$
DECLARE
    tenant uuid := app_tenant_id();
    prefix text := 'asmt_' || replace(tenant::text, '-', '');
    tbl    text := prefix || '_' || substr(md5(random()::text || clock_timestamp()::text), 1, 8);
    cur    regclass := coalesce(assessment_partition(tenant), 'assessments_shared'::regclass);
    t      regclass;
    n      bigint;
BEGIN
    INSERT INTO assessment_rewrites AS r VALUES (tenant, tbl, clock_timestamp())
    ON CONFLICT (tenant_id) DO UPDATE SET tbl = excluded.tbl, began = excluded.began
    WHERE r.began < clock_timestamp() - interval '1 hour';
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    DELETE FROM assessment_rewrite_changes WHERE tenant_id = tenant;
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE ON %s FOR EACH ROW '
        'WHEN (NEW.tenant_id = %L AND current_setting(''app.rewriting'', true) IS DISTINCT FROM ''on'') '
        'EXECUTE FUNCTION assessment_rewrite_note()', prefix || '_writes', cur, tenant);
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER DELETE ON %s FOR EACH ROW '
        'WHEN (OLD.tenant_id = %L AND current_setting(''app.rewriting'', true) IS DISTINCT FROM ''on'') '
        'EXECUTE FUNCTION assessment_rewrite_note()', prefix || '_deletes', cur, tenant);
    EXECUTE format('CREATE TABLE %I (LIKE assessments INCLUDING DEFAULTS, CONSTRAINT %I CHECK (tenant_id = %L)) WITH (fillfactor = 70)',
        tbl, tbl || '_tenant', tenant);
    -- COPY refuses a table with row-level security: until it is prepared,
    -- the service role may only insert, and the CHECK admits no other
    -- tenant's rows.
    EXECUTE format('REVOKE ALL ON %I FROM potential_app', tbl);
    EXECUTE format('GRANT INSERT ON %I TO potential_app', tbl);
    -- Last, so that the lock of customers a drop takes is held only to
    -- the commit, not through the waits above.
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
          AND c.relname LIKE prefix || '\_%' AND c.relname <> tbl AND NOT c.relispartition
    LOOP
        BEGIN
            EXECUTE format('DROP TABLE %s', t);
        EXCEPTION WHEN lock_not_available THEN
            NULL; -- busy customers (see assessment_rewrite_drop): next time
        END;
    END LOOP;
    RETURN tbl;
END
$fn$;

-- assessment_rewrite_table checks that tbl is a table of the current
-- tenant's that is not attached, and returns it.
CREATE FUNCTION assessment_rewrite_table(tbl text) RETURNS regclass
    LANGUAGE plpgsql STABLE
    SET search_path FROM CURRENT
    AS $fn$
DECLARE
    t regclass;
BEGIN
    SELECT c.oid::regclass INTO t FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
      AND c.relname = tbl AND c.relname LIKE 'asmt\_' || replace(app_tenant_id()::text, '-', '') || '\_%';
    IF t IS NULL THEN
        RAISE EXCEPTION 'no assessment table % of this tenant to rewrite into', tbl USING ERRCODE = 'undefined_table';
    END IF;
    RETURN t;
END
$fn$;

-- assessment_rewrite_prepare turns the filled table's row-level security
-- on, with the tenant policy and the service role's privileges of every
-- table, and builds its indexes by sorting. One join of the stored rows'
-- ids and stages with the new ones then lists, in the unlogged table
-- <tbl>_moves, the customers whose stage changed (assessment_rewrite_swap
-- records their transitions) and those the table lacks, whose stored rows
-- it adds (none when every customer was assessed; their transitions were
-- recorded by their writers). It gathers the table's statistics and adds
-- its foreign key to customers last (the key's SHARE ROW EXCLUSIVE lock of
-- customers holds their writers back until the transaction ends):
-- deletions of customers cascade to the table from then on, and the
-- triggers note those before.
CREATE FUNCTION assessment_rewrite_prepare(tbl text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $fn$
DECLARE
    tenant uuid := app_tenant_id();
    t      regclass := assessment_rewrite_table(tbl);
    cur    regclass := coalesce(assessment_partition(tenant), 'assessments_shared'::regclass);
    moves  text := tbl || '_moves';
BEGIN
    -- Sorts and the join's hash table in memory: a million rows' keys
    -- take some 60 MB.
    IF pg_size_bytes(current_setting('maintenance_work_mem')) < 256 * 1024 * 1024 THEN
        PERFORM set_config('maintenance_work_mem', '256MB', true);
    END IF;
    IF pg_size_bytes(current_setting('work_mem')) < 128 * 1024 * 1024 THEN
        PERFORM set_config('work_mem', '128MB', true);
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO potential_app', t);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (tenant_id, customer_id)', t, tbl || '_pkey');
    EXECUTE format('CREATE INDEX %I ON %s (tenant_id, predicted_value, customer_id)', tbl || '_predicted_value', t);
    EXECUTE format('CREATE INDEX %I ON %s (tenant_id, value_at_risk, customer_id)', tbl || '_value_at_risk', t);
    EXECUTE format('CREATE UNLOGGED TABLE %I (customer_id uuid NOT NULL, from_stage smallint NOT NULL, missing boolean NOT NULL)', moves);
    EXECUTE format('REVOKE ALL ON %I FROM potential_app', moves);
    EXECUTE format('INSERT INTO %I SELECT o.customer_id, o.stage, n.customer_id IS NULL FROM %s o LEFT JOIN %s n ON n.customer_id = o.customer_id '
        'WHERE o.tenant_id = %L AND (n.customer_id IS NULL OR n.stage <> o.stage)', moves, cur, t, tenant);
    EXECUTE format('INSERT INTO %s SELECT * FROM %s o WHERE o.tenant_id = %L AND o.customer_id IN (SELECT customer_id FROM %I WHERE missing)',
        t, cur, tenant, moves);
    EXECUTE format('ANALYZE %s', t);
    EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) ON DELETE CASCADE NOT VALID',
        t, tbl || '_fkey');
END
$fn$;

-- assessment_rewrite_swap makes the prepared table the current tenant's
-- partition of assessments and returns the table it replaced, emptied
-- (NULL when the tenant's rows were in assessments_shared, from which they
-- are deleted). It records the lifecycle transitions of the new rows
-- (from <tbl>_moves, at their assessment time); then, under an ACCESS
-- EXCLUSIVE lock of assessments (the caller bounds the wait with
-- lock_timeout), it takes over the stored rows of the customers that the
-- triggers noted, deletes those of customers deleted meanwhile and takes
-- back the transitions it recorded for both, and swaps the tables.
--
-- The first swap of a tenant deletes its rows from assessments_shared
-- before it takes the lock, behind the tenant's write gate (see
-- assessment_write_gate), all but the noted customers' (taken over under
-- the lock with the rest of the noted rows); under the lock it adds the CHECK that keeps the tenant out of
-- assessments_shared, whose validation reads that partition whole.
CREATE FUNCTION assessment_rewrite_swap(tbl text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $fn$
DECLARE
    tenant uuid := app_tenant_id();
    prefix text := 'asmt_' || replace(tenant::text, '-', '');
    t      regclass := assessment_rewrite_table(tbl);
    cur    regclass := coalesce(assessment_partition(tenant), 'assessments_shared'::regclass);
    cols   text := 'tenant_id, customer_id, assess_time, model_version, r, f, m, segment, historical_value, p_alive, '
        'expected_purchases, expected_spend, predicted_value, value_at_risk, churn_level, churn_reasons, stage, prior_stage, '
        'silence_days, cadence_days';
BEGIN
    PERFORM FROM assessment_rewrites WHERE tenant_id = tenant AND assessment_rewrites.tbl = assessment_rewrite_swap.tbl FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the rewrite into % no longer holds its tenant', tbl USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('INSERT INTO lifecycle_transitions (tenant_id, customer_id, from_stage, to_stage, at) '
        'SELECT n.tenant_id, n.customer_id, m.from_stage, n.stage, n.assess_time FROM %I m JOIN %s n USING (customer_id) '
        'WHERE NOT m.missing ORDER BY n.customer_id', tbl || '_moves', t); -- in the index's order: a million at a first assessment
    EXECUTE format('DROP TABLE %I', tbl || '_moves');
    CREATE TEMPORARY TABLE asmt_taken (LIKE assessments) ON COMMIT DROP;
    IF cur = 'assessments_shared'::regclass THEN
        -- Writers of the tenant's assessments wait from here to the commit
        -- (see assessment_write_gate); the wait for those at work is
        -- bounded by the caller's lock_timeout.
        PERFORM pg_advisory_xact_lock(assessment_write_gate(tenant));
        PERFORM set_config('app.rewriting', 'on', true); -- the triggers note none of this
        -- Noted customers' rows stay for the step under the lock, which
        -- takes them over (a million rows returned through a CTE would be
        -- spilled to disk to keep a handful).
        EXECUTE format('DELETE FROM assessments_shared s WHERE s.tenant_id = %L AND NOT EXISTS '
            '(SELECT FROM assessment_rewrite_changes k WHERE k.tenant_id = %L AND k.customer_id = s.customer_id)', tenant, tenant);
    END IF;
    LOCK TABLE assessments IN ACCESS EXCLUSIVE MODE;
    IF cur = 'assessments_shared'::regclass THEN
        -- The noted customers' rows: those the deletion left, and those
        -- inserted since.
        EXECUTE format('WITH d AS (DELETE FROM assessments_shared WHERE tenant_id = %L AND customer_id IN '
            '(SELECT customer_id FROM assessment_rewrite_changes WHERE tenant_id = %L) RETURNING *) '
            'INSERT INTO asmt_taken SELECT * FROM d', tenant, tenant);
    ELSE
        EXECUTE format('INSERT INTO asmt_taken SELECT * FROM %s WHERE tenant_id = %L AND customer_id IN '
            '(SELECT customer_id FROM assessment_rewrite_changes WHERE tenant_id = %L)', cur, tenant, tenant);
    END IF;
    EXECUTE format('DELETE FROM %s n WHERE n.customer_id IN (SELECT customer_id FROM assessment_rewrite_changes WHERE tenant_id = %L) '
        'AND NOT EXISTS (SELECT FROM asmt_taken k WHERE k.customer_id = n.customer_id)', t, tenant);
    EXECUTE format('INSERT INTO %s AS n (%s) SELECT %s FROM asmt_taken '
        'ON CONFLICT (tenant_id, customer_id) DO UPDATE SET (%s) = ROW(%s)',
        t, cols, cols, cols, 'excluded.' || replace(cols, ', ', ', excluded.'));
    DELETE FROM lifecycle_transitions l
    WHERE l.tenant_id = tenant AND l.xmin = xid(pg_current_xact_id())
      AND l.customer_id IN (SELECT customer_id FROM assessment_rewrite_changes WHERE tenant_id = tenant);
    DELETE FROM assessment_rewrite_changes WHERE tenant_id = tenant;
    DELETE FROM assessment_rewrites WHERE tenant_id = tenant;
    IF cur = 'assessments_shared'::regclass THEN
        EXECUTE format('DROP TRIGGER %I ON assessments_shared', prefix || '_writes');
        EXECUTE format('DROP TRIGGER %I ON assessments_shared', prefix || '_deletes');
        EXECUTE format('ALTER TABLE assessments_shared ADD CONSTRAINT %I CHECK (tenant_id <> %L)',
            'assessments_shared_not_' || replace(tenant::text, '-', ''), tenant);
        cur := NULL;
    ELSE
        EXECUTE format('ALTER TABLE assessments DETACH PARTITION %s', cur);
        EXECUTE format('TRUNCATE %s', cur); -- its space back now, whenever it is dropped
    END IF;
    EXECUTE format('ALTER TABLE assessments ATTACH PARTITION %s FOR VALUES IN (%L)', t, tenant);
    RETURN cur::text;
END
$fn$;

-- assessment_rewrite_drop drops a table that assessment_rewrite_swap
-- replaced. Dropping its foreign key locks customers (ACCESS EXCLUSIVE):
-- the caller bounds the wait with lock_timeout, and a table left behind is
-- dropped by the tenant's next assessment_rewrite_begin.
CREATE FUNCTION assessment_rewrite_drop(old text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $fn$
BEGIN
    EXECUTE format('DROP TABLE %s', assessment_rewrite_table(old));
END
$fn$;

-- assessment_rewrite_abort gives up the rewrite into tbl: it releases the
-- tenant and drops the table, unless customers stay locked (see
-- assessment_rewrite_drop), when the next assessment_rewrite_begin does.
-- The triggers and notes stay until then (the triggers are removed by
-- the swap of a later rewrite, or go with the table they are on).
CREATE FUNCTION assessment_rewrite_abort(tbl text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $fn$
BEGIN
    DELETE FROM assessment_rewrites WHERE tenant_id = app_tenant_id() AND assessment_rewrites.tbl = assessment_rewrite_abort.tbl;
    BEGIN
        EXECUTE format('DROP TABLE %s', assessment_rewrite_table(tbl));
    EXCEPTION WHEN lock_not_available OR undefined_table THEN
        NULL;
    END;
END
$fn$;

REVOKE ALL ON FUNCTION assessment_rewrite_begin(), assessment_rewrite_prepare(text),
    assessment_rewrite_swap(text), assessment_rewrite_drop(text), assessment_rewrite_abort(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION assessment_rewrite_begin(), assessment_rewrite_prepare(text),
    assessment_rewrite_swap(text), assessment_rewrite_drop(text), assessment_rewrite_abort(text) TO potential_app;
