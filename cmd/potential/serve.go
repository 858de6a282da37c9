package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
	"github.com/potentialhq/potential/store/postgres"
	"github.com/potentialhq/potential/web"
)

type serveConfig struct {
	grpcAddr        string
	httpAddr        string
	databaseURL     string
	bootstrapKey    string
	logFormat       string
	logLevel        string
	shutdownTimeout time.Duration
	migrate         bool
	rewriteMin      int
	corsOrigins     string
	demoCustomers   int
	pprof           bool
	jobs            bool
	jobPoll         time.Duration
	jobLease        time.Duration
	webhooks        bool
	webhookPoll     time.Duration
	webhookTimeout  time.Duration
	webhookAttempts int
	webhookHTTP     bool
	otlpEndpoint    string
	traceSampling   float64
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg serveConfig
	fs := flagSet("serve", stderr)
	fs.StringVar(&cfg.grpcAddr, "grpc-addr", ":9090", describe("grpc-addr", "address of the gRPC port (grpc-go)"))
	fs.StringVar(&cfg.httpAddr, "http-addr", ":8080", describe("http-addr", "address of the HTTP port: Connect, gRPC-Web and gRPC"))
	fs.StringVar(&cfg.databaseURL, "database-url", "", describe("database-url", "PostgreSQL URL (postgres://…); empty runs on the embedded in-memory store"))
	fs.StringVar(&cfg.bootstrapKey, "bootstrap-key", "", describe("bootstrap-key", "admin API key of tenant \"default\", created if missing (pk_<id>_<secret>); empty generates one on an empty store and prints it once"))
	fs.StringVar(&cfg.logFormat, "log-format", "json", describe("log-format", "log format: json or text"))
	fs.StringVar(&cfg.logLevel, "log-level", "info", describe("log-level", "log level: debug, info, warn or error"))
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 20*time.Second, describe("shutdown-timeout", "how long SIGTERM waits for in-flight calls"))
	fs.BoolVar(&cfg.migrate, "migrate", true, describe("migrate", "apply PostgreSQL migrations on start"))
	fs.IntVar(&cfg.rewriteMin, "rewrite-min", postgres.DefaultRewriteMin, describe("rewrite-min", "PostgreSQL: the customers from which a tenant's whole re-assessment rewrites its own partition instead of updating rows in place"))
	fs.StringVar(&cfg.corsOrigins, "cors-origins", "", describe("cors-origins", "comma-separated origins (scheme://host[:port]) of browser applications allowed to call the HTTP port; empty: same origin only"))
	fs.IntVar(&cfg.demoCustomers, "demo-customers", 2000, describe("demo-customers", "on the in-memory store, load a demo tenant of this many customers (as potential demo does) and fit its value model; 0 starts empty"))
	fs.BoolVar(&cfg.pprof, "pprof", false, describe("pprof", "serve net/http/pprof under /debug/pprof/ on the HTTP port"))
	fs.BoolVar(&cfg.jobs, "jobs", true, describe("jobs", "run the scheduled jobs (daily re-assessment, re-grading and lead-conversion retraining, re-scoring after interrupted rule changes); every replica may, each run is leased through the store"))
	fs.DurationVar(&cfg.jobPoll, "job-poll", 30*time.Second, describe("job-poll", "how often the scheduler looks for due jobs"))
	fs.DurationVar(&cfg.jobLease, "job-lease", 2*time.Minute, describe("job-lease", "how long a job's lease lasts unless its replica extends it: how soon another replica takes over the run of one that died"))
	fs.BoolVar(&cfg.webhooks, "webhooks", true, describe("webhooks", "deliver webhooks (segment entries and exits, grade changes) to the registered destinations; every replica may, each attempt is leased through the store"))
	fs.DurationVar(&cfg.webhookPoll, "webhook-poll", time.Second, describe("webhook-poll", "how often the webhook worker looks for new events and due deliveries"))
	fs.DurationVar(&cfg.webhookTimeout, "webhook-timeout", 10*time.Second, describe("webhook-timeout", "how long one webhook attempt may take, connecting included"))
	fs.IntVar(&cfg.webhookAttempts, "webhook-max-attempts", 10, describe("webhook-max-attempts", "attempts of a webhook delivery before it is marked failed (backoff from 10 s doubling to 1 h, with jitter)"))
	fs.BoolVar(&cfg.webhookHTTP, "webhook-allow-http-localhost", false, describe("webhook-allow-http-localhost", "for development and tests only: let admins register http:// webhook destinations on localhost"))
	fs.StringVar(&cfg.otlpEndpoint, "otlp-endpoint", "", describe("otlp-endpoint", "OpenTelemetry: export a span of every call to this OTLP/gRPC collector (http://host:4317 without TLS, https://… with it); empty: no tracing"))
	fs.Float64Var(&cfg.traceSampling, "trace-sampling", 1, describe("trace-sampling", "OpenTelemetry: the share of traces to sample (0-1) when the caller's trace context does not decide"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.rewriteMin <= 0 {
		return fmt.Errorf("%w: rewrite-min must be positive", errUsage)
	}
	if cfg.jobPoll <= 0 || cfg.jobLease <= 0 {
		return fmt.Errorf("%w: job-poll and job-lease must be positive", errUsage)
	}
	if cfg.webhookPoll <= 0 || cfg.webhookTimeout <= 0 || cfg.webhookAttempts <= 0 {
		return fmt.Errorf("%w: webhook-poll, webhook-timeout and webhook-max-attempts must be positive", errUsage)
	}
	log, err := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		return err
	}
	if err := server.CheckOrigins(splitList(cfg.corsOrigins)); err != nil {
		return fmt.Errorf("%w: cors-origins: %v", errUsage, err)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	setMemoryLimit(ctx, log)

	store, err := openStore(ctx, cfg.databaseURL, cfg.migrate, cfg.rewriteMin)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := domain.NewService(store, nil)
	tenant, generated, err := svc.Bootstrap(ctx, cfg.bootstrapKey)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(stdout, "Created tenant %q with an admin API key (shown once, keep it):\n\n    %s\n\n", tenant.Name, generated)
	}

	tracing, stopTracing, err := newTracing(ctx, cfg.otlpEndpoint, cfg.traceSampling)
	if err != nil {
		return err
	}
	defer func() {
		// After the calls are drained: flush their spans.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("flushing traces", "error", err)
		}
	}()
	srv, err := server.New(svc, server.Options{Logger: log, CORSOrigins: splitList(cfg.corsOrigins), Pprof: cfg.pprof, Tracing: tracing})
	if err != nil {
		return err
	}
	if pg, ok := store.(*postgres.Store); ok {
		srv.Metrics().RegisterPool(func() server.PoolStats {
			st := pg.PoolStat()
			return server.PoolStats{
				AcquiredConns: st.AcquiredConns(), IdleConns: st.IdleConns(), TotalConns: st.TotalConns(), MaxConns: st.MaxConns(),
				AcquireCount: st.AcquireCount(), EmptyAcquireCount: st.EmptyAcquireCount(), AcquireDuration: st.AcquireDuration(),
			}
		})
	}
	// Readiness follows the store: NOT_SERVING while the database is unreachable.
	readyDone := make(chan struct{})
	go func() {
		defer close(readyDone)
		srv.WatchReadiness(ctx, store.Ping, time.Second, log)
	}()
	// Time-driven work, leased through the store: stopped with ctx, its run
	// in progress (if any) is left to its lease's expiry.
	jobsDone := make(chan struct{})
	jobsCtx, stopJobs := context.WithCancel(ctx)
	defer func() { stopJobs(); <-jobsDone }() // before the store closes
	if cfg.jobs {
		sched, err := domain.NewScheduler(svc, domain.SchedulerOptions{Poll: cfg.jobPoll, LeaseTTL: cfg.jobLease, Logger: log})
		if err != nil {
			return err
		}
		go func() {
			defer close(jobsDone)
			sched.Run(jobsCtx) //nolint:errcheck // returns ctx's error
		}()
	} else {
		close(jobsDone)
	}
	// Webhook deliveries, leased through the store like the jobs.
	svc.AllowInsecureWebhooks(cfg.webhookHTTP)
	hooksDone := make(chan struct{})
	defer func() { stopJobs(); <-hooksDone }()
	if cfg.webhooks {
		w, err := domain.NewWebhookWorker(svc, domain.WebhookWorkerOptions{Encode: server.EncodeWebhookEvent, Poll: cfg.webhookPoll,
			Timeout: cfg.webhookTimeout, MaxAttempts: cfg.webhookAttempts, Logger: log})
		if err != nil {
			return err
		}
		go func() {
			defer close(hooksDone)
			w.Run(jobsCtx) //nolint:errcheck // returns ctx's error
		}()
	} else {
		close(hooksDone)
	}
	// The dashboard, on the HTTP port beside the API (same origin).
	srv.Mux().Handle("/", web.Handler())
	grpcLis, err := net.Listen("tcp", cfg.grpcAddr)
	if err != nil {
		return fmt.Errorf("grpc-addr: %w", err)
	}
	httpLis, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		grpcLis.Close()
		return fmt.Errorf("http-addr: %w", err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("serving", "grpc_addr", grpcLis.Addr().String(), "http_addr", httpLis.Addr().String(), "store", storeKind(cfg.databaseURL), "tenant", tenant.Name)
	fmt.Fprintf(stdout, "Potential %s serving gRPC on %s and Connect/gRPC-Web/gRPC on %s (%s store)\n", version, grpcLis.Addr(), httpLis.Addr(), storeKind(cfg.databaseURL))
	fmt.Fprintf(stdout, "Dashboard: http://%s/\n", httpLis.Addr())

	errc := make(chan error, 2)
	go func() { errc <- srv.GRPC().Serve(grpcLis) }()
	if cfg.databaseURL == "" && cfg.demoCustomers > 0 {
		key := cfg.bootstrapKey
		if generated != "" {
			key = generated
		}
		go loadDemo(ctx, log, grpcLis.Addr().String(), key, cfg.demoCustomers)
	}
	go func() {
		if err := httpSrv.Serve(httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
			return
		}
		errc <- nil
	}()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight calls", "timeout", cfg.shutdownTimeout)
	<-readyDone // ctx is done: the readiness watcher returns and no longer sets the status
	srv.SetServing(false)
	return shutdown(srv, httpSrv, cfg.shutdownTimeout)
}

// shutdown stops accepting calls and waits up to timeout for in-flight ones.
func shutdown(srv *server.Server, httpSrv *http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		done := make(chan struct{})
		go func() { srv.GRPC().GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			srv.GRPC().Stop()
		}
	}()
	var httpErr error
	go func() {
		defer wg.Done()
		if httpErr = httpSrv.Shutdown(ctx); httpErr != nil {
			httpSrv.Close()
		}
	}()
	wg.Wait()
	return httpErr
}

func storeKind(url string) string {
	if url == "" {
		return "in-memory"
	}
	return "postgres"
}

// openStore opens the in-memory store when url is empty, else the
// PostgreSQL store at url (migrated first if migrate), which rewrites the
// assessments of tenants of rewriteMin customers or more.
func openStore(ctx context.Context, url string, migrate bool, rewriteMin int) (domain.Store, error) {
	if url == "" {
		return memory.New(), nil
	}
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, fmt.Errorf("%w: database-url must be a postgres:// URL", errUsage)
	}
	if migrate {
		if err := postgres.Migrate(ctx, url); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	s, err := postgres.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	s.SetRewriteMin(rewriteMin)
	return s, nil
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var url string
	fs := flagSet("migrate", stderr)
	fs.StringVar(&url, "database-url", "", describe("database-url", "PostgreSQL URL (postgres://…)"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if url == "" {
		return fmt.Errorf("%w: --database-url or POTENTIAL_DATABASE_URL is required", errUsage)
	}
	if err := postgres.Migrate(ctx, url); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, "migrations applied")
	return err
}

// memoryLimit reports the memory the server may use: its cgroup's limit (a
// container's), or memlimit.ErrNoLimit.
var memoryLimit memlimit.Provider = func() (uint64, error) {
	limit, err := memlimit.FromCgroup()
	if errors.Is(err, memlimit.ErrNoCgroup) || errors.Is(err, memlimit.ErrCgroupsNotSupported) {
		return 0, memlimit.ErrNoLimit
	}
	return limit, err
}

// setMemoryLimit sets the Go runtime's soft memory limit to 90 % of the
// memory the server may use (memoryLimit), and follows that limit while
// ctx lasts (a container resized in place is followed within a minute),
// unless the GOMEMLIMIT environment variable sets one or AUTOMEMLIMIT is
// "off" (AUTOMEMLIMIT=0.8 changes the share). Without a limit the
// collector lets the heap grow to twice what is live before it runs, so a
// bulk fit or re-assessment of a large tenant could have the container
// killed for memory it did not need; near the limit it collects sooner
// instead. It returns the limit in force (math.MaxInt64: none).
func setMemoryLimit(ctx context.Context, log *slog.Logger) int64 {
	limit, _ := memlimit.Set(memlimit.WithProvider(memoryLimit), memlimit.WithLogger(log),
		memlimit.WithRefreshInterval(ctx, time.Minute)) // an error is logged, and leaves the limit as it was
	return limit
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("%w: log-level: %v", errUsage, err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("%w: log-format must be json or text", errUsage)
}

// loadDemo fills a fresh in-memory service with demo data through its own
// gRPC port, then fits the value model so every customer is assessed.
func loadDemo(ctx context.Context, log *slog.Logger, addr, key string, n int) {
	start := time.Now()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Warn("demo data not loaded", "error", err)
		return
	}
	defer conn.Close()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	d := generateDemo(n, 1, time.Now())
	if err := d.load(ctx, customerv1.NewCustomerServiceClient(conn)); err != nil {
		log.Warn("demo data not loaded", "error", err)
		return
	}
	stream, err := scoringv1.NewScoringServiceClient(conn).FitValueModel(ctx, &scoringv1.FitValueModelRequest{})
	if err == nil {
		for err == nil {
			_, err = stream.Recv()
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		log.Warn("demo value model not fitted", "error", err)
	}
	log.Info("demo data loaded", "customers", len(d.customers), "transactions", len(d.transactions), "interactions", len(d.interactions), "duration", time.Since(start))
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
