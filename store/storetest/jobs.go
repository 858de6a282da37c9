package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// claim claims job name of tenant at now for owner with a one-minute lease,
// its first slot day(0, 0).
func claim(t *testing.T, s domain.Store, tenant domain.Tenant, name string, now time.Time, owner string) (domain.JobLease, bool) {
	t.Helper()
	l, ok, err := s.ClaimJob(ctx(t), tenant.ID, name, day(0, 0), now, owner, time.Minute)
	if err != nil {
		t.Fatalf("ClaimJob(%s, %s): %v", name, owner, err)
	}
	return l, ok
}

func jobRuns(t *testing.T, s domain.Store, tenant domain.Tenant) []domain.JobRun {
	t.Helper()
	runs, err := s.ListJobRuns(ctx(t), tenant.ID)
	if err != nil {
		t.Fatalf("ListJobRuns: %v", err)
	}
	return runs
}

var jobTests = []test{
	{"Jobs/ClaimIsExclusiveUntilTheLeaseExpires", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		if _, ok := claim(t, s, tn, "reassess", day(0, 0).Add(-time.Second), "a"); ok {
			t.Fatal("claimed a job before its first slot")
		}
		a, ok := claim(t, s, tn, "reassess", day(0, 1), "a")
		if !ok || !a.Slot.Equal(day(0, 0)) || a.Attempt != 1 || a.Owner != "a" || a.Token == "" || !a.Expires.Equal(day(0, 1).Add(time.Minute)) {
			t.Fatalf("first claim = %+v, %v", a, ok)
		}
		if _, ok := claim(t, s, tn, "reassess", day(0, 1).Add(59*time.Second), "b"); ok {
			t.Fatal("claimed a leased job")
		}
		// Another job of the tenant is independent.
		if _, ok := claim(t, s, tn, "regrade", day(0, 1), "b"); !ok {
			t.Fatal("could not claim another job")
		}
		// Extending moves the expiry.
		if err := s.ExtendJobLease(ctx(t), a, day(0, 1).Add(2*time.Minute)); err != nil {
			t.Fatalf("ExtendJobLease: %v", err)
		}
		if _, ok := claim(t, s, tn, "reassess", day(0, 1).Add(90*time.Second), "b"); ok {
			t.Fatal("claimed a job whose lease was extended")
		}
		// Expired: b takes the same slot over; a can neither extend nor
		// complete any more.
		b, ok := claim(t, s, tn, "reassess", day(0, 1).Add(2*time.Minute), "b")
		if !ok || !b.Slot.Equal(a.Slot) || b.Attempt != 2 || b.Token == a.Token {
			t.Fatalf("takeover = %+v, %v", b, ok)
		}
		if err := s.ExtendJobLease(ctx(t), a, day(0, 2)); !errors.Is(err, domain.ErrLeaseLost) {
			t.Fatalf("ExtendJobLease of a lost lease = %v, want ErrLeaseLost", err)
		}
		if err := s.CompleteJob(ctx(t), a, day(0, 2), day(1, 0)); !errors.Is(err, domain.ErrLeaseLost) {
			t.Fatalf("CompleteJob of a lost lease = %v, want ErrLeaseLost", err)
		}
		if runs := jobRuns(t, s, tn); len(runs) != 0 {
			t.Fatalf("run log after failed completions = %+v", runs)
		}
		if err := s.CompleteJob(ctx(t), b, day(0, 2), day(1, 0)); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		if err := s.CompleteJob(ctx(t), b, day(0, 2), day(1, 0)); !errors.Is(err, domain.ErrLeaseLost) {
			t.Fatalf("second CompleteJob = %v, want ErrLeaseLost", err)
		}
		want := domain.JobRun{TenantID: tn.ID, Name: "reassess", Slot: day(0, 0), Owner: "b", Attempt: 2,
			Claimed: day(0, 1).Add(2 * time.Minute), Finished: day(0, 2)}
		if runs := jobRuns(t, s, tn); len(runs) != 1 || runs[0] != want {
			t.Fatalf("run log = %+v, want [%+v]", runs, want)
		}
		// The next slot: not due before it, then claimed afresh.
		if _, ok := claim(t, s, tn, "reassess", day(1, 0).Add(-time.Microsecond), "a"); ok {
			t.Fatal("claimed a job before its next slot")
		}
		c, ok := claim(t, s, tn, "reassess", day(1, 0), "a")
		if !ok || !c.Slot.Equal(day(1, 0)) || c.Attempt != 1 {
			t.Fatalf("claim of the next slot = %+v, %v", c, ok)
		}
	}},
	{"Jobs/ConcurrentClaimsOneWins", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won []domain.JobLease
		)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, ok, err := s.ClaimJob(ctx(t), tn.ID, "reassess", day(0, 0), day(0, 1), string(rune('a'+i)), time.Minute)
				if err != nil {
					t.Errorf("ClaimJob: %v", err)
				}
				if ok {
					mu.Lock()
					won = append(won, l)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d of 8 concurrent claims won, want 1: %+v", len(won), won)
		}
	}},
	{"Jobs/RunLogIsPerTenantAndPruned", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		// Slot 0, then one past the retention window, then the next day.
		slots := []time.Time{day(0, 0), day(0, 0).Add(domain.JobRunRetention + time.Hour), day(0, 0).Add(domain.JobRunRetention + 25*time.Hour)}
		for i, slot := range slots {
			l, ok := claim(t, s, tn, "reassess", slot, "a")
			if !ok || !l.Slot.Equal(slot) {
				t.Fatalf("claim %d = %+v, %v", i, l, ok)
			}
			next := slot
			if i+1 < len(slots) {
				next = slots[i+1]
			}
			if err := s.CompleteJob(ctx(t), l, slot, next); err != nil {
				t.Fatalf("CompleteJob %d: %v", i, err)
			}
			if i == 1 {
				if runs := jobRuns(t, s, tn); len(runs) != 1 || !runs[0].Slot.Equal(slot) {
					t.Fatalf("run log after a completion past the retention window = %+v, want only its slot", runs)
				}
			}
		}
		if runs := jobRuns(t, s, tn); len(runs) != 2 || !runs[0].Slot.Equal(slots[1]) || !runs[1].Slot.Equal(slots[2]) {
			t.Fatalf("run log = %+v", runs)
		}
		if runs := jobRuns(t, s, other); len(runs) != 0 {
			t.Fatalf("another tenant's run log = %+v", runs)
		}
		// Another tenant's lease on the same name does not reach this one.
		l, ok := claim(t, s, other, "reassess", day(0, 1), "b")
		if !ok {
			t.Fatal("other tenant could not claim its own job")
		}
		l.TenantID = tn.ID
		if err := s.CompleteJob(ctx(t), l, day(0, 1), day(1, 0)); !errors.Is(err, domain.ErrLeaseLost) {
			t.Fatalf("CompleteJob with another tenant's lease = %v, want ErrLeaseLost", err)
		}
	}},
}
