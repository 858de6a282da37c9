package postgres_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// BenchmarkReassess re-assesses a whole tenant — read every customer's
// inputs, assess them with a fitted model, write the assessments and
// their lifecycle transitions — and compares the time with PostgreSQL's
// own aggregation of the tenant's transactions,
//
//	SELECT customer_id, count(*), sum(amount), min(occurred_at), max(occurred_at)
//	FROM transactions WHERE tenant_id = $1 GROUP BY customer_id
//
// run by the store's role (under row-level security) with every row
// received, as the lower bound of any work that looks at every customer.
// The tenant has n customers with 10 transactions each on average (a tenth
// are leads without any) and one interaction on average in the last 200
// days, loaded with COPY (synthetic, fixed seed) outside the timer.
//
// Metrics: groupby-s (the aggregation, best of two), reassess-s and
// x-groupby (the first assessment of every customer, which records a
// transition for each), daily-s and x-daily (the next day's re-assessment,
// the daily job), and the server's checkpoints meanwhile (see
// benchCheckpoints). One iteration is all it takes:
//
//	go test -run '^$' -bench 'Reassess/customers=20000$' -benchtime 1x ./store/postgres/
//	go test -run '^$' -bench 'Reassess/customers=1000000$' -benchtime 1x -timeout 60m ./store/postgres/
func BenchmarkReassess(b *testing.B) {
	for _, n := range []int{20_000, 1_000_000} {
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) { benchReassess(b, n) })
	}
}

// benchNow is the clock of the benchmark's service.
var benchNow = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)

// benchSeed seeds the synthetic tenant.
const benchSeed = 20260601

// benchCustomer is one synthetic customer: its transactions, interactions
// and the statistics the store would maintain for them.
type benchCustomer struct {
	id      [16]byte
	lead    bool
	created time.Time
	txs     []benchTx
	its     []time.Time
	days    map[int64][2]int64 // UTC day -> amount, orders
	stats   domain.PurchaseStats
}

type benchTx struct {
	id     [16]byte
	refund bool
	amount int64
	margin *int64
	at     time.Time
}

// benchGen generates customer i of the tenant, the same every time.
func benchGen(ids [][16]byte, i int) *benchCustomer {
	rng := rand.New(rand.NewPCG(benchSeed, uint64(i)))
	c := &benchCustomer{id: ids[i], days: map[int64][2]int64{}}
	age := 1 + rng.IntN(1095) // days since the first purchase (or creation)
	first := benchNow.AddDate(0, 0, -age).Truncate(24 * time.Hour)
	c.created = first.Add(-time.Duration(rng.IntN(86400)) * time.Second)
	for range rng.IntN(3) { // interactions in the last 200 days
		c.its = append(c.its, benchNow.Add(-time.Duration(rng.Int64N(200*86400))*time.Second))
	}
	if rng.IntN(10) == 0 {
		c.lead = true
		return c
	}
	// Purchase days as the BG/NBD story tells them (FHL 2005, section 2):
	// a Poisson process with rate λ ~ Gamma(0.8, 1/25 per day) while
	// alive, death with probability p ~ Beta(1, 9) after each purchase;
	// one or two transactions a day.
	lambda, p := gammaRand(rng, 0.8, 1.0/25), betaRand(rng, 1, 9)
	for t, days := 0.0, 0; t <= float64(age) && days < 200; days++ {
		day := first.Add(time.Duration(t) * 24 * time.Hour)
		for range 1 + rng.IntN(2) {
			tx := benchTx{amount: int64((5 + rng.ExpFloat64()*40) * 1e6), at: day.Add(time.Duration(rng.IntN(86400)) * time.Second)}
			tx.id = [16]byte(binaryUUID(rng))
			if rng.IntN(20) == 0 {
				tx.refund, tx.amount = true, tx.amount/2
			} else if rng.IntN(3) == 0 {
				m := tx.amount * 3 / 10
				tx.margin = &m
			}
			c.txs = append(c.txs, tx)
		}
		if rng.Float64() < p {
			break
		}
		t += rng.ExpFloat64() / lambda
	}
	st := &c.stats
	for _, tx := range c.txs {
		if tx.refund {
			st.Refunds++
			st.RefundTotal += domain.Money(tx.amount)
			continue
		}
		st.Orders++
		st.TotalSpend += domain.Money(tx.amount)
		if tx.margin != nil {
			st.TotalMargin += domain.Money(*tx.margin)
		}
		if st.FirstPurchaseTime.IsZero() || tx.at.Before(st.FirstPurchaseTime) {
			st.FirstPurchaseTime = tx.at
		}
		if tx.at.After(st.LastPurchaseTime) {
			st.LastPurchaseTime = tx.at
		}
		d := tx.at.Unix() / 86400
		v := c.days[d]
		c.days[d] = [2]int64{v[0] + tx.amount, v[1] + 1}
	}
	days := make([]int64, 0, len(c.days))
	for d := range c.days {
		days = append(days, d)
	}
	slices.Sort(days)
	st.PurchaseDays = int64(len(days))
	if len(days) > 0 {
		st.FirstDaySpend = domain.Money(c.days[days[0]][0])
	}
	if len(days) > 1 {
		gaps := make([]int64, len(days)-1)
		for k := range gaps {
			gaps[k] = days[k+1] - days[k]
		}
		st.LastGapDays = gaps[len(gaps)-1]
		slices.Sort(gaps)
		lo, hi := gaps[(len(gaps)-1)/2], gaps[len(gaps)/2]
		st.MedianGapDays = float64(lo) + 0.5*float64(hi-lo)
	}
	return c
}

// gammaRand draws from Gamma(shape k, scale θ) (Marsaglia and Tsang 2000).
func gammaRand(rng *rand.Rand, k, theta float64) float64 {
	if k < 1 {
		return gammaRand(rng, 1+k, theta) * math.Pow(rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		if math.Log(rng.Float64()) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v * theta
		}
	}
}

// betaRand draws from Beta(a, b).
func betaRand(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaRand(rng, a, 1), gammaRand(rng, b, 1)
	return x / (x + y)
}

func binaryUUID(rng *rand.Rand) []byte {
	var u [16]byte
	for k := range 2 {
		v := rng.Uint64()
		for j := range 8 {
			u[8*k+j] = byte(v >> (8 * j))
		}
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u[:]
}

// orInfinity is t as the store keeps it: -infinity when zero.
func orInfinity(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
	}
	return pgtype.Timestamptz{Time: t, Valid: true}
}

// benchLoad fills tenant with n customers through privileged connections
// to the database at dbURL (COPY into tables with row-level security is
// refused to the roles it applies to), and returns the number of
// transactions.
func benchLoad(b testing.TB, dbURL, tenant string, ids [][16]byte) int64 {
	b.Helper()
	ctx := context.Background()
	u, err := url.Parse(pgtest.URL(b))
	if err != nil {
		b.Fatal(err)
	}
	tu, _ := url.Parse(dbURL)
	u.Path = tu.Path
	admin := u.String()
	tid := [16]byte(uuid.MustParse(tenant))
	n := len(ids)
	// each walks the customers of quarter k, in id order (each COPY fills
	// pages of its own, so that consecutive ids are neighbours).
	each := func(k int, fn func(c *benchCustomer) [][]any) pgx.CopyFromSource {
		i, end, rows, next := k*n/4, (k+1)*n/4, [][]any(nil), 0
		return pgx.CopyFromFunc(func() ([]any, error) {
			for next >= len(rows) {
				if i >= end {
					return nil, nil
				}
				rows, next = fn(benchGen(ids, i)), 0
				i++
			}
			next++
			return rows[next-1], nil
		})
	}
	type table struct {
		name    string
		columns []string
		rows    func(c *benchCustomer) [][]any
	}
	tables := []table{
		{"customers", []string{"tenant_id", "id", "external_id", "kind", "create_time", "update_time", "version",
			"first_purchase_time", "last_purchase_time", "purchase_days", "orders", "refunds", "total_spend", "first_day_spend",
			"refund_total", "total_margin", "median_gap_days", "last_gap_days", "interactions", "last_interaction_time"},
			func(c *benchCustomer) [][]any {
				kind, p := "customer", c.stats
				if c.lead {
					kind = "lead"
				}
				var last time.Time
				for _, at := range c.its {
					if at.After(last) {
						last = at
					}
				}
				return [][]any{{tid, c.id, fmt.Sprintf("crm-%x", c.id[:]), kind, c.created, c.created, int64(1),
					orInfinity(p.FirstPurchaseTime), orInfinity(p.LastPurchaseTime), p.PurchaseDays, p.Orders, p.Refunds,
					int64(p.TotalSpend), int64(p.FirstDaySpend), int64(p.RefundTotal), int64(p.TotalMargin), p.MedianGapDays,
					p.LastGapDays, int64(len(c.its)), orInfinity(last)}}
			}},
		{"assessments", []string{"tenant_id", "customer_id"}, func(c *benchCustomer) [][]any { return [][]any{{tid, c.id}} }},
		{"transactions", []string{"tenant_id", "id", "external_id", "customer_id", "kind", "amount", "margin", "quantity", "occurred_at"},
			func(c *benchCustomer) [][]any {
				out := make([][]any, len(c.txs))
				for k, tx := range c.txs {
					kind := "order"
					if tx.refund {
						kind = "refund"
					}
					out[k] = []any{tid, tx.id, fmt.Sprintf("tx-%x", tx.id[:8]), c.id, kind, tx.amount, tx.margin, int64(1), tx.at}
				}
				return out
			}},
		{"purchase_days", []string{"tenant_id", "customer_id", "day", "amount", "orders"}, func(c *benchCustomer) [][]any {
			out := make([][]any, 0, len(c.days))
			for d, v := range c.days {
				out = append(out, []any{tid, c.id, time.Unix(d*86400, 0).UTC(), v[0], int32(v[1])})
			}
			return out
		}},
		{"interactions", []string{"tenant_id", "id", "external_id", "customer_id", "type", "occurred_at"}, func(c *benchCustomer) [][]any {
			out := make([][]any, len(c.its))
			for k, at := range c.its {
				id := c.id
				id[15] ^= byte(k + 1)
				id[14] ^= 0x5a
				out[k] = []any{tid, id, fmt.Sprintf("it-%x-%d", c.id[:], k), c.id, "email_opened", at}
			}
			return out
		}},
	}
	// The event tables' keys and indexes are dropped for the load and made
	// again after it, which sorts once instead of inserting 10^7 random
	// keys into B-trees larger than the buffer cache.
	conn := connect(b, admin)
	var restore []string
	for _, table := range []string{"transactions", "purchase_days", "interactions"} {
		rows, _ := conn.Query(ctx, `SELECT 'ALTER TABLE '||$1||' ADD CONSTRAINT '||conname||' '||pg_get_constraintdef(oid),
    'ALTER TABLE '||$1||' DROP CONSTRAINT '||conname
FROM pg_constraint WHERE conrelid = $1::regclass
UNION ALL
SELECT indexdef, 'DROP INDEX '||indexname FROM pg_indexes
WHERE tablename = $1 AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass)`, table)
		var add, drop string
		var drops []string
		if _, err := pgx.ForEachRow(rows, []any{&add, &drop}, func() error {
			restore, drops = append(restore, add), append(drops, drop)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		for _, d := range drops {
			if _, err := conn.Exec(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	}
	var txs int64
	for _, t := range tables {
		var wg sync.WaitGroup
		counts, errs := make([]int64, 4), make([]error, 4)
		for k := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := pgx.Connect(ctx, admin)
				if err != nil {
					errs[k] = err
					return
				}
				defer conn.Close(ctx)
				// Skip the foreign key checks (the generator keeps them
				// true), if the role may.
				conn.Exec(ctx, "SET session_replication_role = replica") //nolint:errcheck
				counts[k], errs[k] = conn.CopyFrom(ctx, pgx.Identifier{t.name}, t.columns, each(k, t.rows))
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				b.Fatalf("copy %s: %v", t.name, err)
			}
		}
		if t.name == "transactions" {
			txs = counts[0] + counts[1] + counts[2] + counts[3]
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(restore))
	for k, sql := range restore {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, admin)
			if err != nil {
				errs[k] = err
				return
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '256MB'"); err != nil {
				errs[k] = err
				return
			}
			_, errs[k] = conn.Exec(ctx, sql)
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			b.Fatalf("%s: %v", restore[k], err)
		}
	}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) "+t.name); err != nil {
			b.Fatal(err)
		}
	}
	return txs
}

// benchGroupBy runs the baseline aggregation as the store's role, in the
// tenant's scope, and returns how long it took and the rows it returned.
func benchGroupBy(b *testing.B, dbURL, tenant string) (time.Duration, int) {
	b.Helper()
	ctx := context.Background()
	conn := connect(b, dbURL)
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, "SELECT set_config('app.tenant_id', $1, true)", tenant); err != nil {
		b.Fatal(err)
	}
	rows, _ := tx.Query(ctx, `SELECT customer_id, count(*), sum(amount), min(occurred_at), max(occurred_at)
FROM transactions WHERE tenant_id = $1 GROUP BY customer_id`, tenant)
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start), n
}

// benchCheckpoints returns the server's count of checkpoints and bytes of
// WAL so far. Both matter: after a checkpoint, the first change of every
// page writes the whole page to the WAL, and re-assessing a tenant
// changes pages of the value indexes at random. Other databases of the
// server count too: dropping a database forces a checkpoint, so test runs
// on the same server slow this benchmark down.
func benchCheckpoints(b *testing.B, dbURL string) (checkpoints, wal int64) {
	b.Helper()
	conn := connect(b, dbURL)
	if err := conn.QueryRow(context.Background(), `SELECT checkpoints_timed + checkpoints_req, (SELECT wal_bytes FROM pg_stat_wal)::bigint
FROM pg_stat_bgwriter`).Scan(&checkpoints, &wal); err != nil {
		b.Fatal(err)
	}
	return checkpoints, wal
}

// benchReassessTenant creates a database with the synthetic tenant of n
// customers (benchLoad) and returns its URL, the store and the tenant.
func benchReassessTenant(b *testing.B, n int) (string, *postgres.Store, domain.Tenant) {
	b.Helper()
	dbURL := newDatabase(b)
	tenant := domain.Tenant{ID: domain.NewID(), Name: "bench", CreateTime: benchNow.AddDate(-4, 0, 0)}
	store := open(b, dbURL)
	if err := store.CreateTenant(context.Background(), tenant); err != nil {
		b.Fatal(err)
	}
	ids := make([][16]byte, n)
	for i := range ids {
		ids[i] = [16]byte(uuid.MustParse(domain.NewID()))
	}
	start := time.Now()
	txs := benchLoad(b, dbURL, tenant.ID, ids)
	b.Logf("%d customers, %d transactions loaded in %v", n, txs, time.Since(start).Round(time.Millisecond))
	return dbURL, store, tenant
}

func benchReassess(b *testing.B, n int) {
	ctx := context.Background()
	dbURL, store, tenant := benchReassessTenant(b, n)
	clock := benchNow
	svc := domain.NewService(store, func() time.Time { return clock })
	pctx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tenant.ID, Role: domain.RoleAdmin})
	start := time.Now()
	m, err := svc.FitValueModel(pctx, domain.FitRequest{SkipReassess: true}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("fitted on %d customers in %v: %+v", m.Customers, time.Since(start).Round(time.Millisecond), m.BGNBD)

	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		groupBy := time.Duration(math.MaxInt64)
		for range 2 {
			d, rows := benchGroupBy(b, dbURL, tenant.ID)
			groupBy = min(groupBy, d)
			if rows == 0 {
				b.Fatal("the aggregation returned no rows")
			}
		}
		c0, w0 := benchCheckpoints(b, dbURL)
		b.StartTimer()
		start := time.Now()
		done, err := svc.ReassessAll(ctx, tenant.ID)
		first := time.Since(start)
		if err != nil || done != int64(n) {
			b.Fatalf("ReassessAll: %d, %v", done, err)
		}
		b.StopTimer()
		clock = clock.Add(24 * time.Hour)
		b.StartTimer()
		start = time.Now()
		done, err = svc.ReassessAll(ctx, tenant.ID)
		daily := time.Since(start)
		if err != nil || done != int64(n) {
			b.Fatalf("ReassessAll the next day: %d, %v", done, err)
		}
		b.StopTimer()
		c1, w1 := benchCheckpoints(b, dbURL)
		st, err := store.AssessmentStats(ctx, tenant.ID)
		if err != nil || st.Customers != int64(n) {
			b.Fatalf("AssessmentStats: %d customers, %v", st.Customers, err)
		}
		var transitions int64
		for _, c := range st.Transitions {
			transitions += c
		}
		b.Logf("group by %v; first assessment %v, next day %v; stages %v, %d transitions; "+
			"%d checkpoints of the server and %d MB of WAL meanwhile",
			groupBy.Round(time.Millisecond), first.Round(time.Millisecond), daily.Round(time.Millisecond), st.Stages, transitions,
			c1-c0, (w1-w0)>>20)
		b.ReportMetric(float64(c1-c0), "checkpoints")
		b.ReportMetric(groupBy.Seconds(), "groupby-s")
		b.ReportMetric(first.Seconds(), "reassess-s")
		b.ReportMetric(first.Seconds()/groupBy.Seconds(), "x-groupby")
		b.ReportMetric(daily.Seconds(), "daily-s")
		b.ReportMetric(daily.Seconds()/groupBy.Seconds(), "x-daily")
		b.StartTimer()
	}
}
