package storetest

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// reservation returns a record of tenant's request id for method, in flight
// from now for a minute.
func reservation(tenant domain.Tenant, method, id, payload string, now time.Time) domain.RequestRecord {
	return domain.RequestRecord{TenantID: tenant.ID, Method: method, ID: id, Hash: domain.RequestHash([]byte(payload)),
		Token: domain.NewID(), Created: now, Expires: now.Add(time.Minute)}
}

func reserve(t *testing.T, s domain.Store, r domain.RequestRecord, now time.Time) (domain.RequestRecord, bool) {
	t.Helper()
	got, ok, err := s.ReserveRequest(ctx(t), r, now)
	if err != nil {
		t.Fatalf("ReserveRequest(%s): %v", r.ID, err)
	}
	return got, ok
}

var requestTests = []test{
	{"Requests/ReserveCompleteAndRepeat", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := reservation(tn, "/m/Create", "req-1", "payload", t0)
		got, ok := reserve(t, s, a, t0)
		if !ok || got.Token != a.Token || got.Done || !bytes.Equal(got.Hash, a.Hash) || !got.Expires.Equal(a.Expires) {
			t.Fatalf("first reserve = %+v, %v", got, ok)
		}
		// A second call while the first is in flight sees the first's record.
		b := reservation(tn, "/m/Create", "req-1", "payload", t0.Add(time.Second))
		got, ok = reserve(t, s, b, t0.Add(time.Second))
		if ok || got.Token != a.Token || got.Done {
			t.Fatalf("reserve while in flight = %+v, %v", got, ok)
		}
		// Only the holder completes it.
		if err := s.CompleteRequest(ctx(t), tn.ID, a.Method, a.ID, b.Token, []byte("x"), t0.Add(time.Hour)); err == nil {
			t.Fatal("another token completed the reservation")
		}
		if err := s.CompleteRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token, []byte("response"), t0.Add(24*time.Hour)); err != nil {
			t.Fatalf("CompleteRequest: %v", err)
		}
		if err := s.CompleteRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token, []byte("again"), t0.Add(24*time.Hour)); err == nil {
			t.Fatal("completed a done request twice")
		}
		// A release after completion changes nothing.
		if err := s.ReleaseRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token); err != nil {
			t.Fatalf("ReleaseRequest: %v", err)
		}
		got, ok = reserve(t, s, b, t0.Add(2*time.Minute))
		if ok || !got.Done || string(got.Response) != "response" || !got.Expires.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("reserve after completion = %+v, %v", got, ok)
		}
		// The key is (tenant, method, id).
		if _, ok := reserve(t, s, reservation(tn, "/m/Other", "req-1", "payload", t0), t0); !ok {
			t.Fatal("the same id of another method was taken")
		}
		other := newTenant(t, s)
		if _, ok := reserve(t, s, reservation(other, "/m/Create", "req-1", "payload", t0), t0); !ok {
			t.Fatal("the same id of another tenant was taken")
		}
	}},
	{"Requests/EmptyResponseIsDone", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := reservation(tn, "/m/Delete", "r", "p", t0)
		reserve(t, s, a, t0)
		if err := s.CompleteRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token, nil, t0.Add(time.Hour)); err != nil {
			t.Fatalf("CompleteRequest: %v", err)
		}
		got, ok := reserve(t, s, reservation(tn, "/m/Delete", "r", "p", t0), t0)
		if ok || !got.Done || got.Response == nil || len(got.Response) != 0 {
			t.Fatalf("reserve after an empty response = %+v, %v", got, ok)
		}
	}},
	{"Requests/ReleaseFreesTheKey", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := reservation(tn, "/m/Create", "r", "p", t0)
		reserve(t, s, a, t0)
		// Another token's release is a no-op.
		if err := s.ReleaseRequest(ctx(t), tn.ID, a.Method, a.ID, domain.NewID()); err != nil {
			t.Fatalf("ReleaseRequest: %v", err)
		}
		if _, ok := reserve(t, s, reservation(tn, "/m/Create", "r", "p", t0), t0); ok {
			t.Fatal("another token released the reservation")
		}
		if err := s.ReleaseRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token); err != nil {
			t.Fatalf("ReleaseRequest: %v", err)
		}
		b := reservation(tn, "/m/Create", "r", "other payload", t0)
		if got, ok := reserve(t, s, b, t0); !ok || !bytes.Equal(got.Hash, b.Hash) {
			t.Fatalf("reserve after release = %+v, %v", got, ok)
		}
	}},
	{"Requests/LapsedRecordsAreReplacedAndPruned", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		// An in-flight reservation whose call died lapses at its expiry.
		a := reservation(tn, "/m/Create", "crashed", "p", t0)
		reserve(t, s, a, t0)
		if _, ok := reserve(t, s, reservation(tn, "/m/Create", "crashed", "p", t0), a.Expires.Add(-time.Microsecond)); ok {
			t.Fatal("reserved before the reservation lapsed")
		}
		b := reservation(tn, "/m/Create", "crashed", "p", a.Expires)
		if got, ok := reserve(t, s, b, a.Expires); !ok || got.Token != b.Token {
			t.Fatalf("reserve after the lapse = %+v, %v", got, ok)
		}
		// The lapsed holder can no longer complete it.
		if err := s.CompleteRequest(ctx(t), tn.ID, a.Method, a.ID, a.Token, []byte("late"), t0.Add(time.Hour)); err == nil {
			t.Fatal("a lapsed reservation was completed")
		}
		// Pruning deletes only expired records, of the tenant only, up to the limit.
		other := newTenant(t, s)
		for i, id := range []string{"d1", "d2", "d3", "live"} {
			for _, tt := range []domain.Tenant{tn, other} {
				r := reservation(tt, "/m/Create", id, "p", t0)
				reserve(t, s, r, t0)
				exp := t0.Add(time.Hour)
				if id == "live" {
					exp = t0.Add(48 * time.Hour)
				}
				if err := s.CompleteRequest(ctx(t), tt.ID, r.Method, r.ID, r.Token, []byte{byte(i)}, exp); err != nil {
					t.Fatalf("CompleteRequest: %v", err)
				}
			}
		}
		at := t0.Add(25 * time.Hour) // "crashed" (b, in flight) and d1..d3 expired
		if n, err := s.PruneRequests(ctx(t), tn.ID, at, 2); err != nil || n != 2 {
			t.Fatalf("PruneRequests(limit 2) = %d, %v", n, err)
		}
		if n, err := s.PruneRequests(ctx(t), tn.ID, at, 100); err != nil || n != 2 {
			t.Fatalf("PruneRequests = %d, %v; want the 2 left", n, err)
		}
		if n, err := s.PruneRequests(ctx(t), tn.ID, at, 100); err != nil || n != 0 {
			t.Fatalf("PruneRequests again = %d, %v", n, err)
		}
		got, ok := reserve(t, s, reservation(tn, "/m/Create", "live", "p", at), at)
		if ok || !got.Done || string(got.Response) != "\x03" {
			t.Fatalf("unexpired record after pruning = %+v, %v", got, ok)
		}
		if n, err := s.PruneRequests(ctx(t), other.ID, at, 100); err != nil || n != 3 {
			t.Fatalf("PruneRequests(other tenant) = %d, %v", n, err)
		}
	}},
	{"Requests/ConcurrentReservesReserveOnce", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, tokens := 0, map[string]bool{}
		for range n {
			wg.Go(func() {
				got, ok, err := s.ReserveRequest(ctx(t), reservation(tn, "/m/Create", "race", "p", t0), t0)
				if err != nil {
					t.Errorf("ReserveRequest: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if ok {
					wins++
				}
				tokens[got.Token] = true
			})
		}
		wg.Wait()
		if wins != 1 || len(tokens) != 1 {
			t.Fatalf("%d of %d concurrent reserves won, %d tokens seen; want 1 and 1", wins, n, len(tokens))
		}
	}},
	{"Requests/UnknownTenant", func(t *testing.T, s domain.Store) {
		r := reservation(domain.Tenant{ID: domain.NewID()}, "/m/Create", "r", "p", t0)
		if _, _, err := s.ReserveRequest(ctx(t), r, t0); err == nil {
			t.Fatal("reserved for an unknown tenant")
		}
	}},
}
