package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"gonum.org/v1/gonum/stat/distuv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
	"github.com/potentialhq/potential/store/postgres"
)

type benchConfig struct {
	databaseURL           string
	customers, txs        int
	ingest                int // transactions of txs recorded through the API; the rest is loaded
	batch, writers, reads int
	duration              time.Duration
	keep                  bool
	profileDir            string
	profileFor            time.Duration
}

// benchRow is one line of the results table.
type benchRow struct {
	scenario   string
	ours, base float64 // throughput, per second (or seconds for durations)
	unit       string
	ratio      float64
	p50, p99   time.Duration
	clientCPU  float64 // share of the machine the load generator used
	note       string
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	began := time.Now()
	var cfg benchConfig
	fs := flagSet("bench", stderr)
	fs.StringVar(&cfg.databaseURL, "database-url", "", describe("database-url", "PostgreSQL server to benchmark on (a superuser: the run creates and drops a database of its own)"))
	fs.IntVar(&cfg.customers, "customers", 100_000, "customers")
	fs.IntVar(&cfg.txs, "transactions", 1_000_000, "transactions")
	fs.IntVar(&cfg.ingest, "ingest-transactions", 10_000, "of --transactions, how many the ingest scenario records through RecordTransactions (the rest is bulk-loaded first)")
	fs.IntVar(&cfg.batch, "batch", 500, "transactions per RecordTransactions call and per COPY")
	fs.IntVar(&cfg.writers, "writers", 4, "concurrent ingestion clients (and COPY connections)")
	fs.IntVar(&cfg.reads, "readers", 8, "concurrent point-read clients")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of each point-read scenario")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the benchmark database")
	fs.StringVar(&cfg.profileDir, "profile-dir", "", "write the server's CPU profile of each scenario (its first --profile-for) to this directory, for go tool pprof")
	fs.DurationVar(&cfg.profileFor, "profile-for", 30*time.Second, "how long each scenario's profile lasts at most (whole seconds)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.databaseURL == "" {
		return fmt.Errorf("%w: --database-url or POTENTIAL_DATABASE_URL is required", errUsage)
	}
	if cfg.customers < 1 || cfg.txs < cfg.customers || cfg.batch < 1 || cfg.batch > domain.MaxBatch || cfg.ingest < 1 {
		return fmt.Errorf("%w: need customers >= 1, transactions >= customers, 1 <= batch <= %d, ingest-transactions >= 1", errUsage, domain.MaxBatch)
	}
	cfg.ingest = min(cfg.ingest, cfg.txs)
	admin, err := postgres.OpenBaseline(ctx, cfg.databaseURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	if av, err := admin.Setting(ctx, "autovacuum"); err == nil && av != "on" {
		// Without it no table's statistics follow its growth, and plans
		// made for empty tables run on full ones: not what a deployment
		// sees.
		fmt.Fprintln(stderr, "bench: warning: the server runs with autovacuum off; its statistics will not follow the tables this run fills, and the figures will not be those of a deployment")
	}
	dbName := fmt.Sprintf("potential_bench_%d", time.Now().UnixNano())
	if err := admin.CreateDatabase(ctx, dbName); err != nil {
		return err
	}
	if !cfg.keep {
		defer admin.DropDatabase(context.WithoutCancel(ctx), dbName)
	}
	u, err := url.Parse(cfg.databaseURL)
	if err != nil {
		return err
	}
	u.Path = "/" + dbName
	dbURL := u.String()
	if err := postgres.Migrate(ctx, dbURL); err != nil {
		return err
	}
	base, err := postgres.OpenBaseline(ctx, dbURL)
	if err != nil {
		return err
	}
	defer base.Close()

	key := "pk_bench_" + strconv.FormatUint(rand.Uint64(), 36) + "0123456789abcdef"
	child, grpcAddr, httpAddr, err := startChild(ctx, dbURL, key, cfg.profileDir != "")
	if err != nil {
		return err
	}
	defer func() { _ = child.Process.Signal(syscall.SIGTERM); _ = child.Wait() }()
	fmt.Fprintf(stderr, "bench: %d customers, %d transactions; server pid %d on %s and %s; database %s\n", cfg.customers, cfg.txs, child.Process.Pid, grpcAddr, httpAddr, dbName)

	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	gc := customerv1.NewCustomerServiceClient(conn)
	gs := scoringv1.NewScoringServiceClient(conn)
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cProtocols()}}
	auth := connect.WithInterceptors(bearerInterceptor(key))
	cc := customerv1connect.NewCustomerServiceClient(h2c, "http://"+httpAddr, auth)
	cs := scoringv1connect.NewScoringServiceClient(h2c, "http://"+httpAddr, auth)

	var rows []benchRow
	tenantID, err := base.TenantID(ctx, domain.DefaultTenantName)
	if err != nil {
		return err
	}
	baseTenant := domain.NewID()
	if err := base.CreateTenant(ctx, baseTenant, "baseline", time.Now()); err != nil {
		return err
	}

	// The data set. Customers as the value models see them: purchase
	// rates that differ (gamma-distributed weights) and lives that end (a
	// customer buys only until its own end, somewhere in the two years),
	// so that the model the run fits is identified, as on a real tenant's
	// history.
	ids := make([]string, cfg.customers)
	ext := make([]string, cfg.customers)
	baseIDs := make([]string, cfg.customers)
	for i := range ids {
		ids[i], ext[i], baseIDs[i] = domain.NewID(), fmt.Sprintf("c%07d", i), domain.NewID()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now().AddDate(-2, 0, 0)
	type tx struct {
		cust   int32
		amount int64
		at     time.Time
	}
	span := 729 * 24 * time.Hour
	cum := make([]float64, cfg.customers)
	life := make([]time.Duration, cfg.customers)
	sum := 0.0
	weight := distuv.Gamma{Alpha: 0.6, Beta: 1, Src: rng}
	for c := range cum {
		sum += weight.Rand()
		cum[c] = sum
		life[c] = span
		if rng.Float64() < 0.6 {
			life[c] = time.Duration(rng.Int64N(int64(span))) + 24*time.Hour
		}
	}
	all := make([]tx, cfg.txs)
	for i := range all {
		c := i % cfg.customers // every customer buys at least once
		if i >= cfg.customers {
			c = min(sort.SearchFloat64s(cum, rng.Float64()*sum), cfg.customers-1)
		}
		all[i] = tx{cust: int32(c), amount: int64(1+rng.IntN(50_000)) * 10_000, at: start.Add(time.Duration(rng.Int64N(int64(min(life[c], span)))))}
	}
	// The transactions are shuffled, so that the slice measured through
	// the API is spread over every customer, as new orders are.
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	// External ids in the order they are sent, as a CRM's usually are.
	txExt := func(i int) string { return fmt.Sprintf("t%08d", i) }

	// 0. Load: everything but the measured slice, through the store's bulk
	// loader (chunks of customers with all their transactions: COPY into
	// staging tables, the statistics computed there, each customer written
	// once), then the baseline's customers by COPY, then ANALYZE, so that
	// every scenario runs on a full-scale database whose planner
	// statistics describe it. The loaded transactions are sent customer
	// by customer, and their external ids follow the order they are sent.
	loadN := cfg.txs - cfg.ingest
	t0 := time.Now()
	loader, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer loader.Close()
	first := make([]int, cfg.customers+1) // customer c's loaded transactions: order[first[c]:first[c+1]]
	for _, t := range all[:loadN] {
		first[t.cust+1]++
	}
	for c := range cfg.customers {
		first[c+1] += first[c]
	}
	order := make([]int32, loadN)
	next := slices.Clone(first[:cfg.customers])
	for i, t := range all[:loadN] {
		order[next[t.cust]] = int32(i)
		next[t.cust]++
	}
	next = nil
	const chunk = 100_000
	loadChunk := max(1, chunk*cfg.customers/max(1, loadN)) // customers per Load: about chunk transactions
	if _, _, _, err := runBatches(cfg.customers, loadChunk, 2, func(lo, hi int) error {
		cs := make([]domain.Customer, 0, hi-lo)
		txs := make([]domain.Transaction, 0, first[hi]-first[lo])
		for c := lo; c < hi; c++ {
			cs = append(cs, domain.Customer{ID: ids[c], ExternalID: ext[c], Kind: domain.KindCustomer})
		}
		for p := first[lo]; p < first[hi]; p++ {
			t := all[order[p]]
			txs = append(txs, domain.Transaction{ID: domain.NewID(), ExternalID: txExt(p), CustomerID: ids[t.cust], Kind: domain.TxOrder,
				Amount: domain.Money(t.amount), Quantity: 1, OccurredAt: t.at})
		}
		_, _, err := loader.Load(ctx, tenantID, cs, txs)
		return err
	}); err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	tLoad := time.Since(t0)
	loader.Close()
	for i := 0; i < cfg.customers; i += chunk {
		hi := min(i+chunk, cfg.customers)
		if err := base.CopyCustomers(ctx, baseTenant, baseIDs[i:hi], ext[i:hi], time.Now()); err != nil {
			return err
		}
	}
	if err := base.Analyze(ctx); err != nil {
		return err
	}
	loadTime := time.Since(t0)
	fmt.Fprintf(stderr, "bench: loaded %d customers with %d transactions and their statistics in %s; with the baseline's customers and ANALYZE in %s\n",
		cfg.customers, loadN, tLoad.Round(time.Millisecond), loadTime.Round(time.Millisecond))
	rows = append(rows, benchRow{scenario: fmt.Sprintf("load: %d customers, %d transactions by the bulk loader (not measured against a baseline)", cfg.customers, loadN),
		ours: float64(loadN) / tLoad.Seconds(), unit: "rows/s", note: fmt.Sprintf("%.0f s in all", loadTime.Seconds())})

	// 1. Ingest: the rest of the transactions, through the API, onto the
	// full-scale database; the baseline copies the same rows into the
	// same table.
	// Each scenario's peak RSS: VmHWM is reset before it (the load is the
	// first "scenario": the server was idle through it) and read after
	// it; with --profile-dir the server's heap profile is saved at its
	// end (name.heap.pprof: in-use and allocated bytes).
	var peaks []benchRow
	pid := child.Process.Pid
	peakOf := func(name string) {
		peaks = append(peaks, benchRow{scenario: "server peak RSS in " + name, ours: float64(peakRSS(pid)) / (1 << 20), unit: "MiB", note: "target < 300 MiB"})
		if cfg.profileDir != "" {
			captureURL(ctx, "http://"+httpAddr+"/debug/pprof/heap", filepath.Join(cfg.profileDir, name+".heap.pprof"), stderr)
		}
		resetPeakRSS(pid)
	}
	peakOf("load")
	profile := func(name string, d time.Duration) func() {
		if cfg.profileDir == "" {
			return func() { peakOf(name) }
		}
		done := captureProfile(ctx, httpAddr, filepath.Join(cfg.profileDir, name+".pprof"), d, stderr)
		return func() { done(); peakOf(name) }
	}
	slice := all[loadN:]
	done := profile("ingest", cfg.profileFor)
	ours, lat, cpu, err := runBatches(len(slice), cfg.batch, cfg.writers, func(lo, hi int) error {
		req := &customerv1.RecordTransactionsRequest{}
		for i := lo; i < hi; i++ {
			t := slice[i]
			req.Transactions = append(req.Transactions, &customerv1.Transaction{
				ExternalId: txExt(loadN + i), Customer: &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_Id{Id: ids[t.cust]}},
				Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: domain.Money(t.amount).String(), OccurredAt: timestamppb.New(t.at),
			})
		}
		_, err := gc.RecordTransactions(actx, req)
		return err
	})
	done()
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	baseRate, _, _, err := runBatches(len(slice), cfg.batch, cfg.writers, func(lo, hi int) error {
		rows := make([]postgres.BaselineTransaction, 0, hi-lo)
		for i := lo; i < hi; i++ {
			t := slice[i]
			rows = append(rows, postgres.BaselineTransaction{ID: domain.NewID(), ExternalID: txExt(loadN + i), CustomerID: baseIDs[t.cust], Amount: t.amount, OccurredAt: t.at})
		}
		return base.CopyTransactions(ctx, baseTenant, rows)
	})
	if err != nil {
		return fmt.Errorf("ingest baseline: %w", err)
	}
	rows = append(rows, benchRow{scenario: fmt.Sprintf("ingest: RecordTransactions of %d (gRPC, %d/call, %d clients) vs COPY", len(slice), cfg.batch, cfg.writers),
		ours: ours, base: baseRate, unit: "rows/s", ratio: ours / baseRate, p50: lat.p(0.5), p99: lat.p(0.99), clientCPU: cpu, note: "target ratio >= 0.5"})

	// 2. Re-assessment after a fit, vs the GROUP BY over the same transactions.
	t0 = time.Now()
	n, err := base.GroupBy(ctx, tenantID)
	if err != nil {
		return err
	}
	groupBy := time.Since(t0)
	done = profile("fit", cfg.profileFor)
	t0 = time.Now()
	stream, err := gs.FitValueModel(actx, &scoringv1.FitValueModelRequest{})
	if err != nil {
		return err
	}
	var assessStart, fitDone time.Time
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("fit: %w", err)
		}
		if p := msg.GetProgress(); p != nil && p.GetStage() == "assessing" && assessStart.IsZero() {
			assessStart = time.Now()
		}
		if msg.GetModel() != nil {
			fitDone = time.Now()
		}
	}
	total := fitDone.Sub(t0)
	done()
	rows = append(rows, benchRow{scenario: fmt.Sprintf("FitValueModel: load + fit + re-assess %d customers vs GROUP BY of %d rows", cfg.customers, cfg.txs),
		ours: total.Seconds(), base: groupBy.Seconds(), unit: "s", ratio: total.Seconds() / groupBy.Seconds(), note: fmt.Sprintf("target ratio <= 3; GROUP BY returned %d customers", n)})

	// 3. Point reads, of customers assessed by the model just fitted, as
	// on a tenant in use (a read then finds its stored assessment current
	// and writes nothing).
	pick := func(r *rand.Rand) string { return ids[r.IntN(len(ids))] }
	baseRead, baseLat, _ := runReads(cfg.reads, cfg.duration, func(r *rand.Rand) error { return base.PointSelect(ctx, baseTenant, baseIDs[r.IntN(len(baseIDs))]) })
	rows = append(rows, benchRow{scenario: fmt.Sprintf("baseline: pgx point select (%d clients)", cfg.reads), ours: baseRead, base: baseRead, unit: "reads/s", ratio: 1, p50: baseLat.p(0.5), p99: baseLat.p(0.99)})
	for _, sc := range []struct {
		name string
		call func(r *rand.Rand) error
	}{
		{"GetCustomer over gRPC", func(r *rand.Rand) error {
			_, err := gc.GetCustomer(actx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: pick(r)}})
			return err
		}},
		{"GetCustomer over Connect", func(r *rand.Rand) error {
			_, err := cc.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: pick(r)}})
			return err
		}},
		{"GetCustomerAssessment over gRPC", func(r *rand.Rand) error {
			_, err := gs.GetCustomerAssessment(actx, &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_CustomerId{CustomerId: pick(r)}})
			return err
		}},
		{"GetCustomerAssessment over Connect", func(r *rand.Rand) error {
			_, err := cs.GetCustomerAssessment(ctx, &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_CustomerId{CustomerId: pick(r)}})
			return err
		}},
	} {
		done := profile("read-"+strings.ReplaceAll(strings.ToLower(sc.name), " ", "-"), min(cfg.duration, cfg.profileFor))
		rate, l, cpu := runReads(cfg.reads, cfg.duration, sc.call)
		done()
		if rate == 0 {
			return fmt.Errorf("%s: every call failed", sc.name)
		}
		rows = append(rows, benchRow{scenario: fmt.Sprintf("%s (%d clients) vs point select", sc.name, cfg.reads), ours: rate, base: baseRead, unit: "reads/s",
			ratio: rate / baseRead, p50: l.p(0.5), p99: l.p(0.99), clientCPU: cpu, note: "target ratio >= 0.6"})
	}

	// 4. Memory of the server process, scenario by scenario, and the
	// peak over all of them.
	rss := 0.0
	for _, p := range peaks {
		rss = max(rss, p.ours)
	}
	rows = append(rows, peaks...)
	rows = append(rows, benchRow{scenario: "server peak RSS over all scenarios", ours: rss, unit: "MiB", note: "target < 300 MiB"})

	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "scenario\tours\tbaseline\tunit\tratio\tp50\tp99\tclient CPU\tnote\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%.0f%%\t%s\t\n", r.scenario, figure(r.ours), figure(r.base), r.unit, r.ratio, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), 100*r.clientCPU, r.note)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: the whole run took %s\n", time.Since(began).Round(time.Second))
	return nil
}

// latencies collects call durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) p(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	return l.d[min(len(l.d)-1, int(q*float64(len(l.d))))]
}

// cpuTime is this process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBatches runs call over [0, n) in batches with w workers and returns
// rows per second, per-call latencies and the load generator's CPU share.
func runBatches(n, batch, w int, call func(lo, hi int) error) (float64, *latencies, float64, error) {
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	lat := &latencies{}
	var wg sync.WaitGroup
	cpu0, t0 := cpuTime(), time.Now()
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for firstErr.Load() == nil {
				lo := int(next.Add(int64(batch))) - batch
				if lo >= n {
					return
				}
				s := time.Now()
				if err := call(lo, min(lo+batch, n)); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				lat.add(time.Since(s))
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if p := firstErr.Load(); p != nil {
		return 0, nil, 0, *p
	}
	return float64(n) / el.Seconds(), lat, (cpuTime() - cpu0).Seconds() / (el.Seconds() * float64(runtime.NumCPU())), nil
}

// runReads calls call from w workers for d and returns calls per second,
// latencies and the load generator's CPU share.
func runReads(w int, d time.Duration, call func(r *rand.Rand) error) (float64, *latencies, float64) {
	lat := &latencies{}
	var ok atomic.Int64
	var wg sync.WaitGroup
	cpu0, t0 := cpuTime(), time.Now()
	deadline := t0.Add(d)
	for i := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for time.Now().Before(deadline) {
				s := time.Now()
				if err := call(r); err == nil {
					lat.add(time.Since(s))
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	return float64(ok.Load()) / el.Seconds(), lat, (cpuTime() - cpu0).Seconds() / (el.Seconds() * float64(runtime.NumCPU()))
}

// startChild runs "potential serve" on the database as a separate process,
// so its memory can be measured, and returns it with its two addresses.
func startChild(ctx context.Context, dbURL, key string, pprof bool) (*exec.Cmd, string, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", "", err
	}
	args := []string{"serve", "--database-url", dbURL, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--bootstrap-key", key, "--log-level", "warn", "--demo-customers", "0",
		// Nothing scheduled runs in the middle of a scenario.
		"--jobs=false"}
	if pprof {
		args = append(args, "--pprof")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = os.Environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", "", err
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := servingLine(sc.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return cmd, m[0], m[1], nil
		}
	}
	_ = cmd.Wait()
	return nil, "", "", errors.New("the server did not start")
}

// servingLine extracts the two addresses from serve's first line.
func servingLine(s string) []string {
	const a, b = "serving gRPC on ", " and Connect/gRPC-Web/gRPC on "
	i, j := strings.Index(s, a), strings.Index(s, b)
	if i < 0 || j < 0 {
		return nil
	}
	rest := s[j+len(b):]
	if k := strings.IndexByte(rest, ' '); k >= 0 {
		rest = rest[:k]
	}
	return []string{s[i+len(a) : j], rest}
}

// peakRSS is a process's high-water resident set size (VmHWM), in bytes.
func peakRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS resets a process's VmHWM to its current RSS (Linux:
// "5" in /proc/<pid>/clear_refs), so that the next peakRSS is the peak
// since; elsewhere it does nothing, and peaks accumulate.
func resetPeakRSS(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

func h2cProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

// bearerInterceptor sends an API key on Connect calls.
type bearerInterceptor string

func (b bearerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// figure formats a throughput or a duration with three significant digits
// at most, and no decimals past them ("35819", "2.43", "0.107").
func figure(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// captureProfile asks the server for a CPU profile of the next d (whole
// seconds, at least one; the scenario may end sooner: a CPU profile counts
// busy time only) and writes it to path; the returned function waits for
// it.
func captureProfile(ctx context.Context, httpAddr, path string, d time.Duration, stderr io.Writer) func() {
	secs := max(1, int(d.Seconds()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		captureURL(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", httpAddr, secs), path, stderr)
	}()
	return func() { <-done }
}

// captureURL writes what a GET of u returns (a profile) to path, and
// reports a failure on stderr.
func captureURL(ctx context.Context, u, path string, stderr io.Writer) {
	err := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}()
	if err != nil {
		fmt.Fprintf(stderr, "bench: profile %s: %v\n", path, err)
	}
}
