package main

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// TestServeRunsScheduledJobsOnceAcrossReplicas runs the real binary twice on
// one database: the scheduled jobs of tenant "default" run for their
// current slot, once, by one replica or the other, never claimed twice.
func TestServeRunsScheduledJobsOnceAcrossReplicas(t *testing.T) {
	dbURL := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
	bin := buildBinary(t)
	env := []string{"POTENTIAL_BOOTSTRAP_KEY=" + durabilityKey}
	args := []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--database-url", dbURL, "--job-poll", "20ms"}
	startBinary(t, bin, env, args...)
	startBinary(t, bin, env, args...)

	st, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.FindTenant(t.Context(), domain.DefaultTenantName)
	if err != nil {
		t.Fatal(err)
	}
	jobs := domain.NewService(st, nil).Jobs()
	var runs []domain.JobRun
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if runs, err = st.ListJobRuns(t.Context(), tn.ID); err != nil {
			t.Fatal(err)
		}
		if len(runs) >= len(jobs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs after 30 s: %+v", runs)
		}
	}
	time.Sleep(200 * time.Millisecond) // both replicas poll ten more times
	if runs, err = st.ListJobRuns(t.Context(), tn.ID); err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, r := range runs {
		ran[r.Name] = true
		if r.Attempt != 1 || !r.Slot.Equal(r.Claimed.Truncate(jobInterval(jobs, r.Name))) {
			t.Errorf("run %+v: want the first attempt at the slot of its claim", r)
		}
	}
	for _, j := range jobs {
		if !ran[j.Name] {
			t.Errorf("job %s did not run: %+v", j.Name, runs)
		}
	}
}

func jobInterval(jobs []domain.Job, name string) time.Duration {
	for _, j := range jobs {
		if j.Name == name {
			return j.Interval
		}
	}
	return time.Nanosecond
}
