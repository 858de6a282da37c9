package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Leased time-driven work (domain.JobStore), leased under the store's mutex
// with the same rules as store/postgres: a claim takes a due job whose
// lease is free or expired, and only the current lease's token extends or
// completes it.

var _ domain.JobStore = (*Store)(nil)

// jobData is one tenant's jobs, by name, and its run log, keyed by job name
// and slot.
type jobData struct {
	jobs map[string]*jobRow
	runs map[jobSlot]domain.JobRun
}

type jobSlot struct {
	name string
	slot time.Time
}

// jobRow is the state of one job: its next slot and its lease, if any.
type jobRow struct {
	slot    time.Time
	lease   domain.JobLease // Token "" when not leased
	attempt int             // claims of the current slot
}

// ClaimJob claims the tenant's job name for owner until now+ttl if it is due
// and not leased.
func (s *Store) ClaimJob(_ context.Context, tenantID, name string, first, now time.Time, owner string, ttl time.Duration) (domain.JobLease, bool, error) {
	first, now = normTime(first), normTime(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.tenant(tenantID)
	if d == nil {
		return domain.JobLease{}, false, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	if d.jobs.jobs == nil {
		d.jobs = jobData{jobs: map[string]*jobRow{}, runs: map[jobSlot]domain.JobRun{}}
	}
	j := d.jobs.jobs[name]
	if j == nil {
		j = &jobRow{slot: first}
		d.jobs.jobs[name] = j
	}
	if j.slot.After(now) || (j.lease.Token != "" && j.lease.Expires.After(now)) {
		return domain.JobLease{}, false, nil
	}
	j.attempt++
	tenant, _ := parseID(tenantID)
	j.lease = domain.JobLease{TenantID: tenant, Name: name, Slot: j.slot, Owner: owner, Token: domain.NewID(), Attempt: j.attempt,
		Claimed: now, Expires: normTime(now.Add(ttl))}
	return j.lease, true, nil
}

// held returns the job l holds, or ErrLeaseLost. s.mu must be held.
func (s *Store) held(l domain.JobLease) (*tenantData, *jobRow, error) {
	d := s.tenant(l.TenantID)
	if d == nil || d.jobs.jobs == nil {
		return nil, nil, domain.ErrLeaseLost
	}
	j := d.jobs.jobs[l.Name]
	if j == nil || j.lease.Token == "" || j.lease.Token != l.Token || !j.slot.Equal(l.Slot) {
		return nil, nil, domain.ErrLeaseLost
	}
	return d, j, nil
}

// ExtendJobLease moves l's expiry to until while l holds the job.
func (s *Store) ExtendJobLease(_ context.Context, l domain.JobLease, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, j, err := s.held(l)
	if err != nil {
		return err
	}
	j.lease.Expires = normTime(until)
	return nil
}

// CompleteJob logs l's slot as run and moves the job to slot next, while l
// holds the job.
func (s *Store) CompleteJob(_ context.Context, l domain.JobLease, finished, next time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, j, err := s.held(l)
	if err != nil {
		return err
	}
	key := jobSlot{l.Name, j.slot}
	if _, dup := d.jobs.runs[key]; dup {
		return fmt.Errorf("%w: run of job %q at %s", domain.ErrConflict, l.Name, j.slot)
	}
	cutoff := j.slot.Add(-domain.JobRunRetention)
	for k := range d.jobs.runs {
		if k.name == l.Name && k.slot.Before(cutoff) {
			delete(d.jobs.runs, k)
		}
	}
	d.jobs.runs[key] = domain.JobRun{TenantID: j.lease.TenantID, Name: l.Name, Slot: j.slot, Owner: j.lease.Owner, Attempt: j.lease.Attempt,
		Claimed: j.lease.Claimed, Finished: normTime(finished)}
	j.slot, j.lease, j.attempt = normTime(next), domain.JobLease{}, 0
	return nil
}

// ListJobRuns returns the tenant's run log, by job name, then slot.
func (s *Store) ListJobRuns(_ context.Context, tenantID string) ([]domain.JobRun, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.tenant(tenantID)
	if d == nil {
		return nil, nil
	}
	var out []domain.JobRun
	for _, r := range d.jobs.runs {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b domain.JobRun) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Slot.Compare(b.Slot)
	})
	return out, nil
}
