package domain

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Time-driven work: jobs that run for every tenant on a schedule, leased
// through the store so that any number of replicas run each scheduled run
// once, and a replica that dies mid-run loses nothing.
//
// This is a small queue of our own rather than a job-queue library: the work
// is a handful of periodic jobs per tenant, not a stream of enqueued tasks,
// and a table with one row per (tenant, job) leased with
// SELECT … FOR UPDATE SKIP LOCKED (store/postgres) needs no LISTEN/NOTIFY,
// advisory locks or session state, so it works behind PgBouncer in
// transaction pooling and on the PostgreSQL-wire distributed engines
// docs/SCALING.md names; the in-memory store leases the same way under its
// mutex.
//
// How a run happens exactly once:
//   - Each (tenant, job) has a next run time, its slot: a multiple of the
//     job's Interval (24 h slots start at midnight UTC).
//   - A scheduler claims a due job (slot at or before now) that nobody holds,
//     or whose holder's lease expired, by writing its owner, a fresh lease
//     token and an expiry of now+LeaseTTL; the claim takes the row with SKIP
//     LOCKED, so two replicas never both claim it.
//   - While the work runs the holder extends the lease every LeaseTTL/3.
//     A holder that dies stops extending it; once it expires, another
//     replica claims the same slot again and runs it (Attempt 2, …).
//   - Completing writes the slot to the run log and moves the job to its
//     next slot in one transaction, on condition that the lease token is
//     still the holder's. A holder whose lease was taken over cannot
//     complete (ErrLeaseLost), and the run log's key (tenant, job, slot)
//     admits one row per slot: the run log holds each slot once.
//
// The work itself may so be started more than once for one slot (by a
// holder that lost its lease, or died before completing), so every job must
// be idempotent: re-deriving assessments or grades from stored facts is.
// Clocks of replicas should agree to well within LeaseTTL; a skewed clock
// only makes a lease expire early, which costs a repeated (idempotent) run,
// never a second entry in the run log.
//
// A run claimed more than one Interval after its slot covers the slots
// missed meanwhile: the next slot is the first one after the claim (see
// NextSlot). Re-running a day's re-assessment seven times after a week of
// downtime would compute seven times what the last run alone gives.
//
// Points expiring need no job: a score is the sum of ledger points valid at
// its as_of time (see Score), so points drop out of it at their expiry by
// themselves. What changes with time without any event — recency and
// P(alive) in assessments, and grades whose engagement component counts
// expiring points — is refreshed by the jobs of Service.Jobs.

// ErrLeaseLost is returned by JobStore.ExtendJobLease and CompleteJob when the
// lease is no longer the caller's: it expired and another scheduler claimed
// the job. The caller's run must not be recorded. It wraps ErrConflict.
var ErrLeaseLost = fmt.Errorf("%w: job lease lost", ErrConflict)

// Job is time-driven work run once per Interval for every tenant.
type Job struct {
	// Name identifies the job in the store and run log: 1-64 of [a-z0-9_-].
	Name string
	// Interval is the time between two slots; slots are multiples of it
	// since the zero time (a 24 h job runs at midnight UTC).
	Interval time.Duration
	// Run does the work for one tenant. It must be idempotent (see above)
	// and return soon after ctx is done.
	Run func(ctx context.Context, tenantID string) error
}

var jobNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Job names of the service's jobs (Service.Jobs).
const (
	JobReassess = "reassess"
	JobRegrade  = "regrade"
	JobRescore  = "rescore"
	JobRetrain  = "retrain"
	JobSegments = "segments"
)

// Jobs returns the time-driven work of the service, which the Scheduler
// runs. This is where time-driven work is added: one entry per job, each
// calling a use case that takes the tenant id.
//
//   - reassess, daily: ReassessAll, the ageing of recency and P(alive).
//   - regrade, daily: RegradeAll, grades as expiring points leave the
//     engagement component.
//   - rescore, every 15 minutes: RescoreStale, finishing a rule change that
//     was interrupted.
//   - retrain, daily: RetrainConversionModels, the lead conversion models
//     the tenant trained, on the outcomes known since (a new model is
//     used only if it is not worse).
//   - segments, every minute: EvaluateDueSegments, the customers whose
//     time-dependent segment rule inputs changed with time alone.
func (s *Service) Jobs() []Job {
	return []Job{
		{Name: JobReassess, Interval: 24 * time.Hour, Run: func(ctx context.Context, tenantID string) error {
			_, err := s.ReassessAll(ctx, tenantID)
			return err
		}},
		{Name: JobRegrade, Interval: 24 * time.Hour, Run: s.RegradeAll},
		{Name: JobRescore, Interval: 15 * time.Minute, Run: s.RescoreStale},
		{Name: JobRetrain, Interval: 24 * time.Hour, Run: func(ctx context.Context, tenantID string) error {
			_, err := s.RetrainConversionModels(ctx, tenantID)
			return err
		}},
		{Name: JobSegments, Interval: time.Minute, Run: func(ctx context.Context, tenantID string) error {
			_, err := s.EvaluateDueSegments(ctx, tenantID)
			return err
		}},
	}
}

// JobLease is a claim on one slot of one tenant's job.
type JobLease struct {
	TenantID string
	Name     string
	// Slot is the scheduled time of the run the lease is for.
	Slot time.Time
	// Owner names the scheduler holding the lease (SchedulerOptions.Owner).
	Owner string
	// Token is fresh for every claim: completing and extending need it, so
	// a holder whose lease was taken over cannot act on it.
	Token string
	// Attempt is 1 for the first claim of the slot, 2 after one takeover, …
	Attempt int
	// Claimed is when the lease was claimed; Expires when it lapses unless
	// extended.
	Claimed time.Time
	Expires time.Time
}

// JobRunRetention is how long the run log keeps a slot: completing a job
// deletes its entries of slots older than this before the completed one.
const JobRunRetention = 90 * 24 * time.Hour

// JobRun is one entry of the run log: a slot that ran to completion.
type JobRun struct {
	TenantID string
	Name     string
	Slot     time.Time
	// Owner is the scheduler that completed it, after Attempt claims.
	Owner   string
	Attempt int
	// Claimed is when the completing holder claimed the slot; Finished when
	// it completed.
	Claimed  time.Time
	Finished time.Time
}

// JobStore leases time-driven work and keeps the run log. Store embeds it;
// the conventions of Store apply. Times are the caller's clock.
type JobStore interface {
	// ClaimJob claims job name of the tenant for owner until now+ttl if its
	// slot is at or before now and it is not leased (or its lease expired
	// at or before now); a job the store has not seen is created with slot
	// first. It returns false when there is nothing to claim, including
	// when a concurrent claim holds the job.
	ClaimJob(ctx context.Context, tenantID, name string, first, now time.Time, owner string, ttl time.Duration) (JobLease, bool, error)
	// ExtendJobLease moves l's expiry to until; ErrLeaseLost if l's token
	// no longer holds the job.
	ExtendJobLease(ctx context.Context, l JobLease, until time.Time) error
	// CompleteJob, atomically, appends l's slot to the run log (finished at
	// finished), deletes the job's entries older than JobRunRetention
	// before l.Slot, moves the job to slot next and releases it;
	// ErrLeaseLost if l's token no longer holds the job.
	CompleteJob(ctx context.Context, l JobLease, finished, next time.Time) error
	// ListJobRuns returns the tenant's run log, by job name, then slot.
	ListJobRuns(ctx context.Context, tenantID string) ([]JobRun, error)
}

// SchedulerOptions configure a Scheduler; zero values take the defaults.
type SchedulerOptions struct {
	// Owner names this scheduler in leases and the run log; default a new
	// id. Give each replica its own.
	Owner string
	// Poll is how often the scheduler looks for due work; default 30 s.
	Poll time.Duration
	// LeaseTTL is how long a claim lasts unless extended (the holder extends
	// it every LeaseTTL/3), so how soon a dead replica's run is taken over;
	// default 2 min.
	LeaseTTL time.Duration
	// Jobs is the work to schedule; default Service.Jobs.
	Jobs []Job
	// Logger receives failed runs; default slog.Default.
	Logger *slog.Logger
}

// Scheduler runs the jobs of a Service for every tenant, leasing each run
// through the service's store (a JobStore) (see the top of this file). Any number of schedulers,
// in any number of processes, may share one store.
type Scheduler struct {
	svc   *Service
	store JobStore
	opts  SchedulerOptions
}

// NewScheduler returns a scheduler of svc's jobs (or opts.Jobs), leased
// through svc's store.
func NewScheduler(svc *Service, opts SchedulerOptions) (*Scheduler, error) {
	if opts.Owner == "" {
		opts.Owner = NewID()
	}
	if opts.Poll <= 0 {
		opts.Poll = 30 * time.Second
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 2 * time.Minute
	}
	if opts.Jobs == nil {
		opts.Jobs = svc.Jobs()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	seen := map[string]bool{}
	for _, j := range opts.Jobs {
		if !jobNameRe.MatchString(j.Name) || seen[j.Name] {
			return nil, fmt.Errorf("%w: job name %q must be unique, 1-64 of [a-z0-9_-]", ErrInvalid, j.Name)
		}
		if j.Interval < time.Millisecond || j.Run == nil {
			return nil, fmt.Errorf("%w: job %q needs an interval of at least 1 ms and a Run", ErrInvalid, j.Name)
		}
		seen[j.Name] = true
	}
	return &Scheduler{svc: svc, store: svc.store, opts: opts}, nil
}

// Run runs due work every Poll until ctx is done; it returns ctx's error. A
// run cut off by ctx is neither completed nor released: its lease expires
// and another scheduler runs the slot, as after a crash.
func (sc *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(sc.opts.Poll)
	defer t.Stop()
	for {
		if _, err := sc.RunDue(ctx); err != nil && ctx.Err() == nil {
			sc.opts.Logger.Warn("scheduled jobs", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunDue makes one pass over every tenant and job, running what is due and
// not leased elsewhere, and returns how many runs it completed. A failed run
// is logged and left to its lease's expiry; the pass goes on with the next.
// Errors of the store end the pass.
func (sc *Scheduler) RunDue(ctx context.Context) (int, error) {
	tenants, err := sc.svc.store.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, t := range tenants {
		for _, j := range sc.opts.Jobs {
			if err := ctx.Err(); err != nil {
				return done, err
			}
			now := sc.svc.Now()
			l, ok, err := sc.store.ClaimJob(ctx, t.ID, j.Name, now.Truncate(j.Interval), now, sc.opts.Owner, sc.opts.LeaseTTL)
			if err != nil {
				return done, err
			}
			if !ok {
				continue
			}
			if err := sc.runLeased(ctx, j, l); err != nil {
				if ctx.Err() != nil {
					return done, ctx.Err()
				}
				sc.opts.Logger.Warn("scheduled job failed", "job", j.Name, "tenant", t.ID, "slot", l.Slot, "attempt", l.Attempt, "error", err)
				continue
			}
			done++
		}
	}
	return done, nil
}

// runLeased runs j under l, extending the lease while it runs, and completes
// the slot.
func (sc *Scheduler) runLeased(ctx context.Context, j Job, l JobLease) error {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(sc.opts.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-runCtx.Done():
				return
			case <-t.C:
				if err := sc.store.ExtendJobLease(runCtx, l, sc.svc.Now().Add(sc.opts.LeaseTTL)); errors.Is(err, ErrLeaseLost) {
					cancel(err)
					return
				}
			}
		}
	}()
	err := j.Run(runCtx, l.TenantID)
	close(stop)
	<-beat
	if err == nil {
		err = context.Cause(runCtx)
	}
	if err != nil {
		return err
	}
	return sc.store.CompleteJob(ctx, l, sc.svc.Now(), NextSlot(l.Slot, l.Claimed, j.Interval))
}

// NextSlot is the slot after a run of slot claimed at claimed: the first
// slot (slot plus a whole number of intervals) after claimed. A run claimed
// on time is followed by slot+interval; a late run covers the slots missed
// up to its claim, because it computes with the time of its claim.
func NextSlot(slot, claimed time.Time, interval time.Duration) time.Time {
	if !claimed.After(slot) {
		return slot.Add(interval)
	}
	return slot.Add((claimed.Sub(slot)/interval + 1) * interval)
}
