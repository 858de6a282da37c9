package server_test

import (
	"log/slog"
	"net"
	"net/url"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// faultProxy starts an in-process TCP proxy in front of the PostgreSQL
// server of dbURL and returns the URL through it and the proxy, whose Stop
// cuts every connection and refuses new ones until Start.
func faultProxy(tb testing.TB, dbURL string) (string, *toxiproxy.Proxy) {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "5432")
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(api, "postgres", "127.0.0.1:0", host)
	if err := p.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Stop)
	u.Host = p.Listen
	return u.String(), p
}

// TestReadinessFollowsTheDatabase cuts the database off behind a proxy and
// brings it back: health on both ports goes NOT_SERVING, then SERVING again.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	dbURL, proxy := faultProxy(t, pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate))
	store, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	srv, err := server.New(domain.NewService(store, nil), server.Options{Logger: quiet(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := serveOn(t, srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.WatchReadiness(t.Context(), store.Ping, 100*time.Millisecond, quiet(t))
	}()
	t.Cleanup(func() { <-done })

	clients := map[string]healthpb.HealthClient{
		"grpc": healthpb.NewHealthClient(e.conn),
		"http": healthpb.NewHealthClient(dial(t, e.httpURL[len("http://"):])),
	}
	waitFor := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for port, c := range clients {
			deadline := time.Now().Add(10 * time.Second)
			for {
				r, err := c.Check(t.Context(), &healthpb.HealthCheckRequest{})
				if err == nil && r.GetStatus() == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s port: health = %v, %v; want %v", port, r.GetStatus(), err, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	waitFor(healthpb.HealthCheckResponse_SERVING)
	proxy.Stop()
	waitFor(healthpb.HealthCheckResponse_NOT_SERVING)
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(healthpb.HealthCheckResponse_SERVING)
}

// quiet logs warnings and errors to the test's log.
func quiet(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
