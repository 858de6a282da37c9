package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

// baseURL and apiKey name the server that TestMain starts for the examples
// and tests: the real service on the in-memory store, on a real listener,
// speaking Connect, gRPC and gRPC-Web, behind a switch that can make calls
// fail (flaky).
var (
	baseURL string
	apiKey  = "pk_sdk_0123456789abcdef"
	flaky   = &faults{}
)

func TestMain(m *testing.M) {
	svc := domain.NewService(memory.New(), nil)
	if _, _, err := svc.Bootstrap(context.Background(), apiKey); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := server.New(svc, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flaky.next = srv.Handler()
	ts := httptest.NewUnstartedServer(flaky)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	ts.Config.Protocols = p
	ts.Start()
	baseURL = ts.URL
	code := m.Run()
	ts.Close()
	os.Exit(code)
}

// faults makes the next calls of a procedure fail with 503 Service
// Unavailable: before they reach the service, or after it has handled them
// (the answer is lost on the way back).
type faults struct {
	next  http.Handler
	mu    sync.Mutex
	fail  map[string]int // procedure path → calls still to fail
	after bool           // fail after handling
	calls map[string]int // procedure path → calls seen
}

// set makes the next n calls of procedure fail, after handling them if
// after is true, and resets the counts.
func (f *faults) set(tb testing.TB, procedure string, n int, after bool) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[string]int{procedure: n}
	f.after = after
	f.calls = map[string]int{}
	tb.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fail, f.calls = nil, nil
	})
}

func (f *faults) count(procedure string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[procedure]
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.calls != nil {
		f.calls[r.URL.Path]++
	}
	failing := f.fail[r.URL.Path] > 0
	if failing {
		f.fail[r.URL.Path]--
	}
	after := f.after
	f.mu.Unlock()
	if !failing {
		f.next.ServeHTTP(w, r)
		return
	}
	if after {
		f.next.ServeHTTP(httptest.NewRecorder(), r)
	}
	http.Error(w, "service unavailable", http.StatusServiceUnavailable)
}
