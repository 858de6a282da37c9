package domain_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// TestIdempotent: a repeat returns the first response without running the
// create; another payload under the id is REQUEST_ID_REUSED; a failed
// create is not recorded; a repeat while the first runs is ErrAborted and
// does not run; after the retention window the id is forgotten and its
// record pruned (fake clock). On both stores.
func TestIdempotent(t *testing.T) {
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			var runs atomic.Int32
			create := func(resp string) func(context.Context) ([]byte, error) {
				return func(context.Context) ([]byte, error) {
					n := runs.Add(1)
					return fmt.Appendf(nil, "%s#%d", resp, n), nil
				}
			}
			const m = "/potential.test.v1.Test/Create"
			first, err := e.svc.Idempotent(e.ctx, m, "r1", []byte("payload"), create("model"))
			if err != nil || string(first) != "model#1" {
				t.Fatalf("first = %q, %v", first, err)
			}
			e.clock.Set(scoringDay(0).Add(time.Hour))
			again, err := e.svc.Idempotent(e.ctx, m, "r1", []byte("payload"), create("model"))
			if err != nil || string(again) != "model#1" || runs.Load() != 1 {
				t.Fatalf("repeat = %q, %v after %d runs; want the first response and 1 run", again, err, runs.Load())
			}
			_, err = e.svc.Idempotent(e.ctx, m, "r1", []byte("another payload"), create("model"))
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || ve.Violations[0].Reason != domain.ReasonRequestIDReused || ve.Violations[0].Field != "request_id" || runs.Load() != 1 {
				t.Fatalf("another payload = %v after %d runs; want REQUEST_ID_REUSED on request_id", err, runs.Load())
			}
			// Without an id nothing is recorded: every call runs.
			if _, err := e.svc.Idempotent(e.ctx, m, "", []byte("payload"), create("x")); err != nil || runs.Load() != 2 {
				t.Fatalf("no id: %v, %d runs", err, runs.Load())
			}

			// A failed create releases the id: a resend (even another payload) runs.
			boom := errors.New("boom")
			if _, err := e.svc.Idempotent(e.ctx, m, "r2", []byte("bad"), func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
				t.Fatalf("failing create = %v", err)
			}
			if out, err := e.svc.Idempotent(e.ctx, m, "r2", []byte("good"), create("fixed")); err != nil || string(out) != "fixed#3" {
				t.Fatalf("after a failure = %q, %v", out, err)
			}

			// A repeat while the first is in flight is ErrAborted and does not run.
			started, release := make(chan struct{}), make(chan struct{})
			done := make(chan error)
			go func() {
				_, err := e.svc.Idempotent(e.ctx, m, "r3", []byte("p"), func(ctx context.Context) ([]byte, error) {
					close(started)
					<-release
					return create("slow")(ctx)
				})
				done <- err
			}()
			<-started
			if _, err := e.svc.Idempotent(e.ctx, m, "r3", []byte("p"), create("dup")); !errors.Is(err, domain.ErrAborted) {
				t.Fatalf("repeat in flight = %v; want ErrAborted", err)
			}
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if out, err := e.svc.Idempotent(e.ctx, m, "r3", []byte("p"), create("dup")); err != nil || string(out) != "slow#4" || runs.Load() != 4 {
				t.Fatalf("repeat after = %q, %v, %d runs", out, err, runs.Load())
			}

			// Retention: kept until RequestRetention after completion, then forgotten.
			e.clock.Set(scoringDay(0).Add(domain.RequestRetention - time.Microsecond))
			if _, err := e.svc.Idempotent(e.ctx, m, "r1", []byte("another payload"), create("model")); err == nil {
				t.Fatal("id forgotten before the retention window ended")
			}
			later := scoringDay(0).Add(time.Hour).Add(domain.RequestRetention) // r2, r3 completed at the first hour
			e.clock.Set(later)
			out, err := e.svc.Idempotent(e.ctx, m, "r1", []byte("another payload"), create("new"))
			if err != nil || string(out) != "new#5" {
				t.Fatalf("after the retention window = %q, %v; want a fresh run", out, err)
			}
			// That call pruned the other expired records (r2, r3).
			if n, err := e.store.PruneRequests(e.ctx, e.tn.ID, later, 100); err != nil || n != 0 {
				t.Fatalf("PruneRequests after a call = %d, %v; want 0 left to prune", n, err)
			}
			if out, err := e.svc.Idempotent(e.ctx, m, "r2", []byte("anything"), create("r2")); err != nil || string(out) != "r2#6" {
				t.Fatalf("pruned id = %q, %v", out, err)
			}
		})
	}
}

// TestIdempotentConcurrent: of concurrent calls with one id, the create runs
// once; the others get its response or ErrAborted.
func TestIdempotentConcurrent(t *testing.T) {
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(0), st.open(t))
			var runs atomic.Int32
			var wg sync.WaitGroup
			var aborted, ok atomic.Int32
			for range 16 {
				wg.Go(func() {
					out, err := e.svc.Idempotent(e.ctx, "/m", "same", []byte("p"), func(context.Context) ([]byte, error) {
						runs.Add(1)
						time.Sleep(20 * time.Millisecond)
						return []byte("r"), nil
					})
					switch {
					case errors.Is(err, domain.ErrAborted):
						aborted.Add(1)
					case err == nil && string(out) == "r":
						ok.Add(1)
					default:
						t.Errorf("call = %q, %v", out, err)
					}
				})
			}
			wg.Wait()
			if runs.Load() != 1 || ok.Load() < 1 || ok.Load()+aborted.Load() != 16 {
				t.Fatalf("runs %d, ok %d, aborted %d; want 1 run", runs.Load(), ok.Load(), aborted.Load())
			}
		})
	}
}
