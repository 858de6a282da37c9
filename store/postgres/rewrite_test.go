package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/postgres"
)

// TestRewriteTables checks the tables a tenant's rewrites leave: none but
// its partition, whatever failed or died before; a rewrite declined while
// another holds the tenant; its rows out of the shared
// partition, which a CHECK then proves (so attaching scans nothing); and
// listings by value reading the partition's index. A tenant below the
// minimum is declined and keeps its rows in the shared partition.
func TestRewriteTables(t *testing.T) {
	t.Parallel()
	url := newDatabase(t)
	s, conn := open(t, url), connect(t, url)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tenant := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: now}
	if err := s.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	// The owner is subject to the tenant policies too.
	if _, err := conn.Exec(ctx, `SELECT set_config('app.tenant_id', $1, false)`, tenant.ID); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 30 {
		c, err := s.CreateCustomer(ctx, domain.Customer{ID: domain.NewID(), TenantID: tenant.ID, ExternalID: fmt.Sprint(i),
			Kind: domain.KindCustomer, CreateTime: now, UpdateTime: now, Version: 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	day := 0
	rewrite := func(fail error) (bool, error) {
		t.Helper()
		day++
		asOf := now.AddDate(0, 0, day)
		return s.RewriteAssessments(ctx, tenant.ID, func(put func([]domain.Assessment) error) error {
			var as []domain.Assessment
			for i, id := range ids {
				as = append(as, domain.Assessment{CustomerID: id, AssessTime: asOf, Stage: domain.StageActive,
					PredictedValue: domain.Money((i*7919 + day) % 1000)})
			}
			if err := put(as); err != nil {
				return err
			}
			return fail
		})
	}
	// tables returns the tenant's tables, "name attached" or "name".
	tables := func() []string {
		t.Helper()
		rows, _ := conn.Query(ctx, `SELECT relname || CASE WHEN relispartition THEN ' attached' ELSE '' END FROM pg_class
WHERE relkind = 'r' AND relname LIKE 'asmt\_' || replace($1, '-', '') || '\_%' ORDER BY 1`, tenant.ID)
		var out []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	if ok, err := rewrite(nil); ok || err != nil {
		t.Fatalf("a tenant of 30 customers, minimum %d: %v, %v; want it declined", 50_000, ok, err)
	}
	s.SetRewriteMin(30)
	boom := errors.New("boom")
	if _, err := rewrite(boom); !errors.Is(err, boom) {
		t.Fatalf("a failing write: %v", err)
	}
	if got := tables(); len(got) != 0 {
		t.Fatalf("after a failed rewrite: %v, want no table", got)
	}
	// A writer of the shared partition that keeps it busy past the begin's
	// lock timeout (its triggers wait for the partition's writers) costs
	// the begin a retry, not the rewrite.
	busy := connect(t, url)
	if _, err := busy.Exec(ctx, `BEGIN; LOCK TABLE assessments_shared IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	released := make(chan error, 1)
	go func() {
		time.Sleep(700 * time.Millisecond)
		_, err := busy.Exec(context.WithoutCancel(ctx), `COMMIT`)
		released <- err
	}()
	if ok, err := rewrite(nil); !ok || err != nil {
		t.Fatalf("a rewrite while the shared partition is busy for 700 ms: %v, %v", ok, err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	// A rewrite while another holds the tenant is declined, write not
	// called: the caller updates in place meanwhile.
	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := s.RewriteAssessments(ctx, tenant.ID, func(put func([]domain.Assessment) error) error {
			close(holding)
			<-release
			return nil
		})
		first <- err
	}()
	<-holding
	ok, err := s.RewriteAssessments(ctx, tenant.ID, func(func([]domain.Assessment) error) error {
		t.Error("write called while another rewrite holds the tenant")
		return nil
	})
	close(release)
	if ok || err != nil {
		t.Fatalf("a rewrite while another runs: %v, %v; want it declined", ok, err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first rewrite: %v", err)
	}
	// A rewrite that died (its claim an hour old) holds the tenant no more,
	// and its table goes.
	dead := "asmt_" + strings.ReplaceAll(tenant.ID, "-", "") + "_dead"
	if _, err := conn.Exec(ctx, `INSERT INTO assessment_rewrites VALUES ($1, $2, now() - interval '61 minutes')`, tenant.ID, dead); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE `+dead+` (LIKE assessments)`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if ok, err := rewrite(nil); !ok || err != nil {
			t.Fatalf("rewrite: %v, %v", ok, err)
		}
		if got := tables(); len(got) != 1 || !strings.HasSuffix(got[0], " attached") {
			t.Fatalf("after a rewrite: %v, want the partition alone", got)
		}
	}
	var shared int
	var check bool
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM assessments_shared WHERE tenant_id = $1),
    EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'assessments_shared'::regclass AND contype = 'c'
        AND conname = 'assessments_shared_not_' || replace($1::text, '-', ''))`, tenant.ID).Scan(&shared, &check); err != nil {
		t.Fatal(err)
	}
	if shared != 0 || !check {
		t.Fatalf("the shared partition holds %d rows of the tenant, CHECK %v", shared, check)
	}
	var triggers, notes int
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'asmt\_%'
        AND tgrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'assessments'::regclass)),
    (SELECT count(*) FROM assessment_rewrite_changes)`).Scan(&triggers, &notes); err != nil {
		t.Fatal(err)
	}
	if triggers != 0 || notes != 0 {
		t.Fatalf("after the rewrites: %d triggers on partitions of assessments, %d notes of changes", triggers, notes)
	}
	part := strings.TrimSuffix(tables()[0], " attached")
	// 30 rows are sorted faster than read by an index: the plan shows
	// that the index serves the order once it is worth it.
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off; SET enable_sort = off`); err != nil {
		t.Fatal(err)
	}
	rows, _ := conn.Query(ctx, `EXPLAIN (COSTS OFF) SELECT customer_id FROM assessments WHERE tenant_id = $1
ORDER BY predicted_value DESC, customer_id DESC LIMIT 5`, tenant.ID)
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if plan := strings.Join(lines, "\n"); !strings.Contains(plan, part+"_predicted_value") {
		t.Fatalf("a listing by value of the tenant:\n%s\nwant an index scan of %s_predicted_value", plan, part)
	}
	list, err := s.ListCustomers(ctx, tenant.ID, domain.CustomerQuery{Order: domain.Order{Field: "predicted_value", Desc: true}, Limit: 100})
	if err != nil || len(list) != len(ids) {
		t.Fatalf("ListCustomers: %d, %v", len(list), err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Assessment.PredictedValue > list[i-1].Assessment.PredictedValue {
			t.Fatalf("listed out of order at %d", i)
		}
	}
}

// TestRewriteWithConcurrentWriters rewrites a tenant twice (out of the
// shared partition, then its own) while writers keep storing assessments
// of its customers, create customers and delete some: through the first
// rewrite, swap included (writers wait at the tenant's write gate while
// it deletes the tenant's shared rows); through the
// second until its rows are written. Every write that began after the
// rewrite did (its write was called) survives it, no deleted customer
// comes back, and every customer has its row.
func TestRewriteWithConcurrentWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs writers for a few seconds")
	}
	t.Parallel()
	url := newDatabase(t)
	s, conn := open(t, url), connect(t, url)
	s.SetRewriteMin(1)
	ctx := t.Context()
	now := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tenant := domain.Tenant{ID: domain.NewID(), Name: "t", CreateTime: now}
	if err := s.CreateTenant(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	newCustomer := func(ext string) string {
		c, err := s.CreateCustomer(ctx, domain.Customer{ID: domain.NewID(), TenantID: tenant.ID, ExternalID: ext,
			Kind: domain.KindCustomer, CreateTime: now, UpdateTime: now, Version: 1})
		if err != nil {
			t.Error(err)
		}
		return c.ID
	}
	const writers, perWriter = 4, 60
	owned := make([][]string, writers) // each writer's customers: its writes of one are in order
	for w := range owned {
		for i := range perWriter {
			owned[w] = append(owned[w], newCustomer(fmt.Sprintf("%d-%d", w, i)))
		}
	}
	type write struct {
		start time.Time
		value domain.Money
	}
	var (
		mu      sync.Mutex
		last    = map[string]write{} // each customer's last write that succeeded
		deleted = map[string]bool{}
		began   time.Time // when the current rewrite's write was called
		seq     atomic.Int64
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				ids := owned[w]
				switch {
				case n%25 == 24 && len(ids) > 0: // delete one
					id := ids[0]
					if err := s.DeleteCustomer(ctx, tenant.ID, id); err != nil {
						t.Errorf("DeleteCustomer: %v", err)
						return
					}
					mu.Lock()
					deleted[id] = true
					mu.Unlock()
					owned[w] = ids[1:]
				case n%25 == 12: // create one
					owned[w] = append(owned[w], newCustomer(fmt.Sprintf("%d-new-%d", w, n)))
				case len(ids) > 0:
					id := ids[n%len(ids)]
					v := domain.Money(seq.Add(1))
					start := time.Now()
					err := s.PutAssessments(ctx, tenant.ID, []domain.Assessment{{CustomerID: id, AssessTime: now,
						Stage: domain.LifecycleStage(1 + n%6), HistoricalValue: v}})
					if err != nil {
						t.Errorf("PutAssessments: %v", err)
						return
					}
					mu.Lock()
					last[id] = write{start, v}
					mu.Unlock()
				}
			}
		})
	}
	for day := 1; day <= 2; day++ {
		asOf := now.AddDate(0, 0, day)
		ok, err := s.RewriteAssessments(ctx, tenant.ID, func(put func([]domain.Assessment) error) error {
			mu.Lock()
			began = time.Now()
			mu.Unlock()
			time.Sleep(200 * time.Millisecond) // the writers go on
			var as []domain.Assessment
			for _, c := range listAll(t, s, tenant.ID) {
				as = append(as, domain.Assessment{CustomerID: c.ID, AssessTime: asOf, Stage: domain.StageActive, HistoricalValue: -1})
			}
			err := put(as)
			if day == 2 {
				// The writers stop before the swap: every customer's last
				// write began after the rewrite did and ended before it.
				close(stop)
				wg.Wait()
			}
			return err
		})
		if !ok || err != nil {
			t.Fatalf("rewrite %d: %v, %v", day, ok, err)
		}
	}
	stored := map[string]domain.Money{}
	for _, c := range listAll(t, s, tenant.ID) {
		if deleted[c.ID] {
			t.Errorf("deleted customer %s is back", c.ID)
		}
		if c.Assessment.AssessTime.IsZero() {
			continue
		}
		stored[c.ID] = c.Assessment.HistoricalValue
	}
	checked := 0
	for id, w := range last {
		if deleted[id] {
			continue
		}
		got, ok := stored[id]
		switch {
		case !ok:
			t.Errorf("customer %s has no assessment", id)
		case w.start.After(began) && got != w.value:
			t.Errorf("customer %s: %d stored, want its write %d (begun after the rewrite)", id, got, w.value)
		case got != w.value && got != -1:
			t.Errorf("customer %s: %d stored, want its write %d or the rewrite's", id, got, w.value)
		}
		if w.start.After(began) {
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no write began after the last rewrite did")
	}
	t.Logf("%d customers, %d written after the last rewrite began, %d deleted", len(stored), checked, len(deleted))

	// Nothing was retried as a deadlock's victim, the swap nor a writer
	// (the write gate orders them). A backend's counts reach the
	// statistics when it exits at the latest.
	s.Close()
	var deadlocks int64
	for range 100 {
		var others int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others)
		if err != nil {
			t.Fatal(err)
		}
		if others == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if err := conn.QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&deadlocks); err != nil {
		t.Fatal(err)
	}
	if deadlocks != 0 {
		t.Errorf("%d deadlocks detected", deadlocks)
	}
}

// listAll lists every customer of the tenant.
func listAll(t *testing.T, s *postgres.Store, tenant string) []domain.Customer {
	t.Helper()
	var out []domain.Customer
	q := domain.CustomerQuery{Limit: 500}
	for {
		page, err := s.ListCustomers(t.Context(), tenant, q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		last := page[len(page)-1]
		q.After = &domain.Cursor{Value: last.SortValue(q.Order.Field), ID: last.ID}
	}
}
