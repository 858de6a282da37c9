package domain_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// scoringClock is the settable clock of the scoring tests.
type scoringClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *scoringClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *scoringClock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// scoringDay is midnight UTC of day n of the scoring tests' calendar.
func scoringDay(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

// scoringEnv is a service over a memory store, an admin context of a new
// tenant, and the clock.
type scoringEnv struct {
	t     *testing.T
	store domain.Store
	svc   *domain.Service
	clock *scoringClock
	tn    domain.Tenant
	ctx   contextT
}

type contextT = interface {
	Deadline() (time.Time, bool)
	Done() <-chan struct{}
	Err() error
	Value(any) any
}

func newScoringEnv(t *testing.T, now time.Time) *scoringEnv {
	t.Helper()
	return newScoringEnvOn(t, now, memory.New())
}

// scoringStores are the stores the seeded scoring tests run on.
var scoringStores = []struct {
	name string
	open func(t *testing.T) domain.Store
}{
	{"memory", func(*testing.T) domain.Store { return memory.New() }},
	{"postgres", func(t *testing.T) domain.Store {
		s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}},
}

// newScoringEnvOn is newScoringEnv on store.
func newScoringEnvOn(t *testing.T, now time.Time, store domain.Store) *scoringEnv {
	t.Helper()
	tn := domain.Tenant{ID: domain.NewID(), Name: "acme", CreateTime: now}
	if err := store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	c := &scoringClock{now: now}
	return &scoringEnv{t: t, store: store, svc: domain.NewService(store, c.Now), clock: c, tn: tn,
		ctx: domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "admin", Role: domain.RoleAdmin})}
}

func (e *scoringEnv) model(name string) domain.ScoringModel {
	e.t.Helper()
	m, err := e.svc.CreateScoringModel(e.ctx, domain.ScoringModel{Name: name})
	if err != nil {
		e.t.Fatalf("CreateScoringModel: %v", err)
	}
	return m
}

func (e *scoringEnv) rule(r domain.ScoringRule) domain.ScoringRule {
	e.t.Helper()
	out, err := e.svc.CreateScoringRule(e.ctx, r)
	if err != nil {
		e.t.Fatalf("CreateScoringRule(%s): %v", r.Name, err)
	}
	return out
}

func (e *scoringEnv) customer(ext string, mutate ...func(*domain.Customer)) domain.Customer {
	e.t.Helper()
	c := domain.Customer{ExternalID: ext, Kind: domain.KindCustomer, DisplayName: "Customer " + ext, Country: "PL"}
	for _, m := range mutate {
		m(&c)
	}
	out, err := e.svc.CreateCustomer(e.ctx, c)
	if err != nil {
		e.t.Fatalf("CreateCustomer(%s): %v", ext, err)
	}
	return out
}

// orders records orders (which scores their customers).
func (e *scoringEnv) orders(txs ...domain.Transaction) {
	e.t.Helper()
	if _, err := e.svc.RecordTransactions(e.ctx, txs, true); err != nil {
		e.t.Fatalf("RecordTransactions: %v", err)
	}
}

func (e *scoringEnv) interactions(its ...domain.Interaction) {
	e.t.Helper()
	if _, err := e.svc.RecordInteractions(e.ctx, its, true); err != nil {
		e.t.Fatalf("RecordInteractions: %v", err)
	}
}

func (e *scoringEnv) referrals(rs ...domain.Referral) {
	e.t.Helper()
	if _, err := e.svc.RecordReferrals(e.ctx, rs, true); err != nil {
		e.t.Fatalf("RecordReferrals: %v", err)
	}
}

func (e *scoringEnv) score(ext, model string, asOf time.Time) int64 {
	e.t.Helper()
	s, err := e.svc.GetScore(e.ctx, domain.CustomerRef{ExternalID: ext}, model, asOf)
	if err != nil {
		e.t.Fatalf("GetScore(%s): %v", ext, err)
	}
	return s.Points
}

// ledgers returns every customer's ledger, by external id.
func (e *scoringEnv) ledgers() map[string][]domain.LedgerEntry {
	e.t.Helper()
	out := map[string][]domain.LedgerEntry{}
	err := e.store.ReadScoring(e.ctx, e.tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) error {
		for _, in := range b.Customers {
			out[in.Customer.ExternalID] = in.Ledger
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// grades returns every customer's stored grade, by customer id.
func (e *scoringEnv) grades() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	err := e.store.ReadScoring(e.ctx, e.tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) error {
		for _, in := range b.Customers {
			out[in.Customer.ID] = in.Grade.Grade
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func scoringOrder(ext, customer string, amount float64, at time.Time) domain.Transaction {
	return domain.Transaction{ExternalID: ext, Customer: domain.CustomerRef{ExternalID: customer}, Kind: domain.TxOrder, Amount: domain.MoneyFromFloat(amount), OccurredAt: at}
}

func TestScorePointsExpireAndExplain(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(0))
	m := e.model("sales")
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50, HasValidity: true, Validity: 180 * 24 * time.Hour})
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Big orders in Poland", EventKind: domain.EventKindOrder, Points: 100,
		Condition: `event.amount > 1000.0 && customer.country == "PL"`})
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Clicks", EventKind: domain.EventKindEmailClicked, Points: 5, Cap: 15,
		HasValidity: true, Validity: 30 * 24 * time.Hour})
	e.customer("ada")
	e.customer("bob", func(c *domain.Customer) { c.Country = "DE" })
	e.orders(scoringOrder("o1", "ada", 1500, scoringDay(0).Add(10*time.Hour)), scoringOrder("o2", "bob", 1500, scoringDay(0).Add(10*time.Hour)))
	e.clock.Set(scoringDay(6))
	for i := range 5 {
		e.interactions(domain.Interaction{ExternalID: fmt.Sprintf("k%d", i), Customer: domain.CustomerRef{ExternalID: "ada"},
			Type: domain.InteractionEmailClicked, OccurredAt: scoringDay(1 + i)})
	}

	// +50 for the order, valid 180 days: counts on day 179, gone on day 181.
	// The condition gave Ada (PL) 100 more, not Bob (DE); clicks stop at
	// their cap of 15 and drop out 30 days after each click.
	e.clock.Set(scoringDay(200))
	for _, c := range []struct {
		ext  string
		day  int
		want int64
	}{
		{"ada", 0, 150}, {"ada", 3, 165}, {"ada", 10, 165}, {"ada", 31, 160}, {"ada", 36, 150},
		{"ada", 179, 150}, {"ada", 181, 100}, {"bob", 179, 50}, {"bob", 181, 0},
	} {
		if got := e.score(c.ext, "", scoringDay(c.day).Add(12*time.Hour)); got != c.want {
			t.Errorf("%s's score on day %d = %d, want %d", c.ext, c.day, got, c.want)
		}
	}
	// Now (day 200) is the default as_of: expiry needs no event.
	if got := e.score("ada", m.ID, time.Time{}); got != 100 {
		t.Errorf("ada's score now = %d, want 100", got)
	}

	ex, err := e.svc.ExplainScore(e.ctx, domain.CustomerRef{ExternalID: "ada"}, "", scoringDay(3).Add(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var sum int64
	for _, en := range ex.Entries {
		lines = append(lines, fmt.Sprintf("%s %+d %s", en.Rule.Name, en.Entry.Points, en.Entry.EventRef))
		sum += en.Entry.Points
	}
	want := []string{"Big orders in Poland +100 o1", "Orders +50 o1", "Clicks +5 k2", "Clicks +5 k1", "Clicks +5 k0"}
	if !slices.Equal(lines, want) || sum != ex.Score.Points || ex.Score.Points != 165 {
		t.Fatalf("explanation = %v (sum %d, score %d), want %v", lines, sum, ex.Score.Points, want)
	}
	if en := ex.Entries[1].Entry; !en.ExpiresAt.Equal(scoringDay(180).Add(10*time.Hour)) || !ex.Entries[0].Entry.ExpiresAt.IsZero() {
		t.Fatalf("expiry of the order's points = %v, of the condition's %v", en.ExpiresAt, ex.Entries[0].Entry.ExpiresAt)
	}
}

func TestScoreAsOfReproducesYesterday(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	m := e.model("sales")
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50, HasValidity: true, Validity: 7 * 24 * time.Hour})
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Meetings", EventKind: domain.EventKindMeeting, Points: 20, Cap: 30})
	e.customer("ada")
	e.orders(scoringOrder("o1", "ada", 10, scoringDay(4)), scoringOrder("o2", "ada", 10, scoringDay(9)))
	e.interactions(domain.Interaction{ExternalID: "m1", Customer: domain.CustomerRef{ExternalID: "ada"}, Type: domain.InteractionMeeting, OccurredAt: scoringDay(10)})
	yesterday := e.score("ada", m.ID, time.Time{})
	explained, err := e.svc.ExplainScore(e.ctx, domain.CustomerRef{ExternalID: "ada"}, m.ID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	// A day passes: o1's points expire, new events arrive (one back-dated
	// into yesterday's future only), and asking about yesterday gives
	// yesterday's answer.
	e.clock.Set(scoringDay(11).Add(time.Hour))
	e.orders(scoringOrder("o3", "ada", 10, scoringDay(11)))
	e.interactions(domain.Interaction{ExternalID: "m2", Customer: domain.CustomerRef{ExternalID: "ada"}, Type: domain.InteractionMeeting, OccurredAt: scoringDay(11)})
	if got := e.score("ada", m.ID, scoringDay(10)); got != yesterday || yesterday != 120 {
		t.Fatalf("yesterday's score as of yesterday = %d, yesterday it was %d (want 120)", got, yesterday)
	}
	again, err := e.svc.ExplainScore(e.ctx, domain.CustomerRef{ExternalID: "ada"}, m.ID, scoringDay(10))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Entries, explained.Entries) {
		t.Fatalf("yesterday's explanation changed:\n%+v\n%+v", again.Entries, explained.Entries)
	}
	if got := e.score("ada", m.ID, time.Time{}); got != 130 { // o2 50 + o3 50 + meetings capped at 30
		t.Fatalf("today's score = %d, want 130", got)
	}
}

// seed fills a tenant with n customers and a deterministic history of
// orders, refunds, interactions and referrals over a year.
func seed(e *scoringEnv, n int) {
	e.t.Helper()
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	var cs []domain.Customer
	for i := range n {
		c := domain.Customer{ExternalID: fmt.Sprintf("c%03d", i), Kind: domain.KindCustomer, DisplayName: fmt.Sprintf("Customer %d", i),
			Country: []string{"PL", "DE", "FR"}[rng.IntN(3)], CompanySize: domain.Size11to50}
		if rng.IntN(4) == 0 {
			c.Kind = domain.KindLead
			c.Qualification = domain.Qualification{Budget: domain.MoneyFromFloat(float64(rng.IntN(5000))), Authority: domain.AuthorityDecisionMaker, Need: "crm"}
		}
		cs = append(cs, c)
	}
	if _, err := e.svc.BatchUpsertCustomers(e.ctx, cs); err != nil {
		e.t.Fatal(err)
	}
	var txs []domain.Transaction
	var its []domain.Interaction
	var rs []domain.Referral
	types := []domain.InteractionType{domain.InteractionEmailOpened, domain.InteractionEmailClicked, domain.InteractionMeeting, domain.InteractionPageView, domain.InteractionCall}
	for i := range n {
		ext := fmt.Sprintf("c%03d", i)
		for j := range rng.IntN(6) {
			kind := domain.TxOrder
			if rng.IntN(8) == 0 {
				kind = domain.TxRefund
			}
			txs = append(txs, domain.Transaction{ExternalID: fmt.Sprintf("t%d-%d", i, j), Customer: domain.CustomerRef{ExternalID: ext}, Kind: kind,
				Amount: domain.MoneyFromFloat(float64(rng.IntN(2000))), OccurredAt: scoringDay(rng.IntN(365)).Add(time.Duration(rng.IntN(86400)) * time.Second)})
		}
		for j := range rng.IntN(8) {
			its = append(its, domain.Interaction{ExternalID: fmt.Sprintf("i%d-%d", i, j), Customer: domain.CustomerRef{ExternalID: ext},
				Type: types[rng.IntN(len(types))], OccurredAt: scoringDay(rng.IntN(365))})
		}
		if rng.IntN(5) == 0 {
			rs = append(rs, domain.Referral{ExternalID: fmt.Sprintf("r%d", i), Referrer: domain.CustomerRef{ExternalID: ext},
				Referred: domain.CustomerRef{ExternalID: fmt.Sprintf("c%03d", (i+1+rng.IntN(n-1))%n)}, OccurredAt: scoringDay(rng.IntN(365))})
		}
	}
	for start := 0; start < len(txs); start += domain.MaxBatch {
		e.orders(txs[start:min(start+domain.MaxBatch, len(txs))]...)
	}
	for start := 0; start < len(its); start += domain.MaxBatch {
		e.interactions(its[start:min(start+domain.MaxBatch, len(its))]...)
	}
	if len(rs) > 0 {
		e.referrals(rs...)
	}
}

// seedRules gives the tenant a model with rules of every sort.
func seedRules(e *scoringEnv) domain.ScoringModel {
	m := e.model("engagement")
	day := 24 * time.Hour
	for _, r := range []domain.ScoringRule{
		{Name: "Orders", EventKind: domain.EventKindOrder, Points: 50, HasValidity: true, Validity: 180 * day},
		{Name: "Big orders", EventKind: domain.EventKindOrder, Points: 30, Condition: `event.amount >= 1000.0`, Cap: 60, HasValidity: true, Validity: 365 * day},
		{Name: "First order", EventKind: domain.EventKindOrder, Points: 40, Condition: `customer.orders == 1`},
		{Name: "Refunds", EventKind: domain.EventKindRefund, Points: -20, HasValidity: true, Validity: 90 * day},
		{Name: "Clicks", EventKind: domain.EventKindEmailClicked, Points: 5, Cap: 20, HasValidity: true, Validity: 30 * day},
		{Name: "Meetings", EventKind: domain.EventKindMeeting, Points: 25, HasValidity: true, Validity: 120 * day},
		{Name: "Referrals", EventKind: domain.EventKindReferralGiven, Points: 30},
		{Name: "Polish page views", EventKind: domain.EventKindPageView, Points: 1, Condition: `customer.country == "PL"`, Cap: 10, HasValidity: true, Validity: 14 * day},
	} {
		r.ModelID = m.ID
		e.rule(r)
	}
	return m
}

func TestRescoringTwiceGivesIdenticalLedgers(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testRescoringTwice(t, st.open)
		})
	}
}

func testRescoringTwice(t *testing.T, open func(t *testing.T) domain.Store) {
	e := newScoringEnvOn(t, scoringDay(366), open(t))
	seedRules(e)
	seed(e, 80)
	first := e.ledgers()
	entries := 0
	for _, l := range first {
		entries += len(l)
	}
	if entries < 100 {
		t.Fatalf("only %d ledger entries: the seed is too thin", entries)
	}
	for range 2 {
		if err := domain.RescoreAll(e.svc, e.ctx, e.tn.ID); err != nil {
			t.Fatal(err)
		}
		if again := e.ledgers(); !reflect.DeepEqual(again, first) {
			t.Fatal("re-scoring the same events gave another ledger")
		}
	}
	// Scoring event by event, as they arrived, gave what scoring them all
	// at once gives: a second tenant scoring the same history only once,
	// after creating its rules, holds the same entries but for the rule ids.
	e2 := newScoringEnvOn(t, scoringDay(366), open(t))
	seed(e2, 80)
	seedRules(e2)
	second := e2.ledgers()
	strip := func(ls map[string][]domain.LedgerEntry) map[string][]string {
		out := map[string][]string{}
		for ext, l := range ls {
			for _, en := range l {
				out[ext] = append(out[ext], fmt.Sprintf("%s %s %d %s %s %v", en.EventKind, en.EventRef, en.Points, en.AwardedAt, en.ExpiresAt, en.Capped))
			}
			slices.Sort(out[ext])
		}
		return out
	}
	if !reflect.DeepEqual(strip(first), strip(second)) {
		t.Fatal("scoring as events arrive and scoring the whole history differ")
	}
}

func TestInvalidRuleChangesAreRejectedAndChangeNothing(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	m := e.model("sales")
	orders := e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50})
	before, err := e.svc.ListScoringRules(e.ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name   string
		mutate func(*domain.ScoringRule)
		field  string
		text   string
	}{
		{"invalid CEL", func(r *domain.ScoringRule) { r.Condition = "event.amount >\n  1000.0 &&" }, "rule.condition", "line 2, column"},
		{"type error", func(r *domain.ScoringRule) { r.Condition = `event.amount > "1000"` }, "rule.condition", "line 1, column 14"},
		{"unknown event kind", func(r *domain.ScoringRule) { r.EventKind = "purchase" }, "rule.event_kind", "unknown event kind"},
		{"zero-width window", func(r *domain.ScoringRule) { r.HasValidity, r.Validity = true, 0 }, "rule.validity", "zero-width"},
	}
	for _, b := range bad {
		r := domain.ScoringRule{ModelID: m.ID, Name: "New", EventKind: domain.EventKindOrder, Points: 10}
		b.mutate(&r)
		_, err := e.svc.CreateScoringRule(e.ctx, r)
		wantViolation(t, "create: "+b.name, err, b.field, b.text)
		_, err = e.svc.UpdateScoringRule(e.ctx, orders.ID, "", func(r *domain.ScoringRule) error { b.mutate(r); return nil })
		wantViolation(t, "update: "+b.name, err, b.field, b.text)
		_, err = e.svc.PreviewRuleChange(e.ctx, domain.RuleChange{Create: &r})
		wantViolation(t, "preview: "+b.name, err, b.field, b.text)
	}
	after, err := e.svc.ListScoringRules(e.ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("rules changed:\n%+v\n%+v", before, after)
	}
	got, _ := e.svc.GetScoringModel(e.ctx, m.ID)
	if got.Revision != 1 || got.ScoredRevision != 1 {
		t.Fatalf("model = %+v, want revision 1, scored", got)
	}
}

func wantViolation(t *testing.T, what string, err error, field, text string) {
	t.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("%s: %v, want a validation error", what, err)
	}
	for _, v := range ve.Violations {
		if v.Field == field && strings.Contains(v.Description, text) {
			return
		}
	}
	t.Fatalf("%s: %v, want a violation of %s mentioning %q", what, err, field, text)
}

func TestConflictingThresholdsAreRejectedAndChangeNothing(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	p := domain.DefaultGradingPolicy()
	p.Cutoffs = []float64{80, 60, 70, 30, 10}
	_, err := e.svc.UpdateGradingPolicy(e.ctx, p, "")
	wantViolation(t, "absolute", err, "policy.cutoffs[2]", "conflicts with cutoffs[1]")
	p.Thresholds, p.Cutoffs = domain.ThresholdsPercentile, []float64{10, 30, 20, 60, 90}
	_, err = e.svc.PreviewPolicyChange(e.ctx, p)
	wantViolation(t, "percentile preview", err, "policy.cutoffs[2]", "conflicts with cutoffs[1]")
	got, err := e.svc.GetGradingPolicy(e.ctx)
	if err != nil || got.Version != 0 {
		t.Fatalf("policy after rejected changes = v%d, %v; want the default", got.Version, err)
	}
}

// matrixOf counts (before, after) pairs over the customers of after.
func matrixOf(before, after map[string]string) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for id, g := range after {
		out[[2]string{before[id], g}]++
	}
	return out
}

func previewMatrix(p domain.GradePreview) map[[2]string]int64 {
	out := map[[2]string]int64{}
	for _, tr := range p.Transitions {
		out[[2]string{tr.From, tr.To}] += tr.Count
	}
	return out
}

func TestPolicyPreviewMatchesApplying(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		for _, thresholds := range []domain.ThresholdMode{domain.ThresholdsAbsolute, domain.ThresholdsPercentile} {
			t.Run(st.name+"/"+string(thresholds), func(t *testing.T) {
				t.Parallel()
				testPolicyPreview(t, newScoringEnvOn(t, scoringDay(366), st.open(t)), thresholds)
			})
		}
	}
}

func testPolicyPreview(t *testing.T, e *scoringEnv, thresholds domain.ThresholdMode) {
	m := seedRules(e)
	seed(e, 120)
	before := e.grades()
	if len(before) != 120 || slices.Contains(slices.Collect(mapValues(before)), "") {
		t.Fatalf("not every customer has a grade: %v", before)
	}
	p := domain.GradingPolicy{
		Grades:      []string{"A", "B", "C", "D"},
		ValueWeight: 40, EngagementWeight: 40, FitWeight: 20,
		ValueSource: domain.ValueHistorical, ValueTarget: domain.MoneyFromFloat(3000),
		EngagementModelID: m.ID, EngagementTarget: 150,
		Fit:        []domain.FitCriterion{{Name: "Poland", Condition: `customer.country == "PL"`, Points: 40}},
		BANT:       domain.BANT{BudgetMin: domain.MoneyFromFloat(1000), BudgetPoints: 30, AuthorityPoints: 30},
		Thresholds: thresholds,
		Cutoffs:    []float64{60, 40, 20},
	}
	if thresholds == domain.ThresholdsPercentile {
		p.Cutoffs = []float64{10, 35, 70}
	}
	preview, err := e.svc.PreviewPolicyChange(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if preview.Customers != 120 || preview.GradeChanges == 0 || len(preview.Samples) == 0 {
		t.Fatalf("preview = %+v", preview)
	}
	if got := e.grades(); !reflect.DeepEqual(got, before) {
		t.Fatal("the preview changed grades")
	}
	if pol, _ := e.svc.GetGradingPolicy(e.ctx); pol.Version != 0 {
		t.Fatal("the preview saved the policy")
	}
	saved, err := e.svc.UpdateGradingPolicy(e.ctx, p, "")
	if err != nil {
		t.Fatal(err)
	}
	after := e.grades()
	if got, want := matrixOf(before, after), previewMatrix(preview); !reflect.DeepEqual(got, want) {
		t.Fatalf("applying gave transitions %v, the preview said %v", got, want)
	}
	for _, s := range preview.Samples {
		if after[s.CustomerID] != s.ToGrade || before[s.CustomerID] != s.FromGrade {
			t.Fatalf("sample %s: preview %s→%s, applied %s→%s", s.CustomerID, s.FromGrade, s.ToGrade, before[s.CustomerID], after[s.CustomerID])
		}
	}
	if !slices.Equal(saved.Cuts, preview.Policy.Cuts) || saved.Version != 1 {
		t.Fatalf("saved cuts %v (v%d), previewed %v", saved.Cuts, saved.Version, preview.Policy.Cuts)
	}
	if thresholds == domain.ThresholdsPercentile {
		counts := map[string]int{}
		for _, g := range after {
			counts[g]++
		}
		if counts["A"] > 12 || counts["A"]+counts["B"] > 42 || counts["A"]+counts["B"]+counts["C"] > 84 || counts["A"] == 0 {
			t.Fatalf("percentile grades %v exceed their shares (10/35/70 %% of 120)", counts)
		}
	}
	// Every change is recorded with its reason.
	changes, _, err := e.svc.ListGradeChanges(e.ctx, domain.ListGradeChangesRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range changes {
		if c.Cause == domain.CausePolicyChanged {
			n++
			if c.PolicyVersion != 1 || c.To != after[c.CustomerID] || !strings.Contains(c.Reason, "under policy v1") {
				t.Fatalf("change %+v", c)
			}
		}
	}
	if int64(n) != preview.GradeChanges {
		t.Fatalf("%d policy changes recorded, the preview counted %d", n, preview.GradeChanges)
	}
}

func mapValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestRulePreviewMatchesApplying(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testRulePreview(t, newScoringEnvOn(t, scoringDay(366), st.open(t)))
		})
	}
}

func testRulePreview(t *testing.T, e *scoringEnv) {
	m := seedRules(e)
	p := domain.GradingPolicy{
		Grades: []string{"A", "B", "C", "D", "E"}, ValueWeight: 20, EngagementWeight: 80,
		ValueSource: domain.ValueHistorical, ValueTarget: domain.MoneyFromFloat(5000),
		EngagementModelID: m.ID, EngagementTarget: 120, Thresholds: domain.ThresholdsPercentile, Cutoffs: []float64{15, 35, 60, 85},
	}
	if _, err := e.svc.UpdateGradingPolicy(e.ctx, p, ""); err != nil {
		t.Fatal(err)
	}
	seed(e, 120)
	rs, _ := e.svc.ListScoringRules(e.ctx, m.ID)
	meetings := rs[5]
	if meetings.Name != "Meetings" {
		t.Fatalf("rules: %+v", rs)
	}
	changes := []struct {
		name    string
		preview domain.RuleChange
		apply   func() error
	}{
		{"create", domain.RuleChange{Create: &domain.ScoringRule{ModelID: m.ID, Name: "Opens", EventKind: domain.EventKindEmailOpened, Points: 15, HasValidity: true, Validity: 200 * 24 * time.Hour}},
			func() error {
				_, err := e.svc.CreateScoringRule(e.ctx, domain.ScoringRule{ModelID: m.ID, Name: "Opens", EventKind: domain.EventKindEmailOpened, Points: 15, HasValidity: true, Validity: 200 * 24 * time.Hour})
				return err
			}},
		{"update", domain.RuleChange{Update: meetings.ID, Mutate: func(r *domain.ScoringRule) error { r.Points, r.Cap = 60, 60; return nil }},
			func() error {
				_, err := e.svc.UpdateScoringRule(e.ctx, meetings.ID, "", func(r *domain.ScoringRule) error { r.Points, r.Cap = 60, 60; return nil })
				return err
			}},
		{"delete", domain.RuleChange{Delete: rs[0].ID}, func() error { return e.svc.DeleteScoringRule(e.ctx, rs[0].ID, "") }},
	}
	for _, c := range changes {
		before := e.grades()
		beforeScores := map[string]int64{}
		for ext := range e.ledgers() {
			beforeScores[ext] = e.score(ext, m.ID, time.Time{})
		}
		preview, err := e.svc.PreviewRuleChange(e.ctx, c.preview)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if preview.ScoreChanges == 0 || preview.GradeChanges == 0 {
			t.Fatalf("%s: the preview changes nothing: %+v", c.name, preview)
		}
		if got := e.grades(); !reflect.DeepEqual(got, before) {
			t.Fatalf("%s: the preview changed grades", c.name)
		}
		if err := c.apply(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		after := e.grades()
		if got, want := matrixOf(before, after), previewMatrix(preview); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: applying gave transitions %v, the preview said %v", c.name, got, want)
		}
		changed := int64(0)
		for ext, s := range beforeScores {
			if e.score(ext, m.ID, time.Time{}) != s {
				changed++
			}
		}
		if changed != preview.ScoreChanges {
			t.Fatalf("%s: %d scores changed, the preview said %d", c.name, changed, preview.ScoreChanges)
		}
		for _, s := range preview.Samples {
			c, _ := e.svc.GetCustomer(e.ctx, domain.CustomerRef{ID: s.CustomerID})
			if got := e.score(c.ExternalID, m.ID, time.Time{}); got != s.ToScore || after[s.CustomerID] != s.ToGrade {
				t.Fatalf("sample %s: previewed %d %s, applied %d %s", c.ExternalID, s.ToScore, s.ToGrade, got, after[s.CustomerID])
			}
		}
	}
}

func TestEveryCustomerHasAGradeFromCreation(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	lead := e.customer("lead", func(c *domain.Customer) {
		c.Kind = domain.KindLead
		c.Qualification = domain.Qualification{Budget: domain.MoneyFromFloat(5000), Authority: domain.AuthorityDecisionMaker, Need: "CRM", DecisionTime: scoringDay(40)}
	})
	cust := e.customer("cust")
	empty := e.customer("empty", func(c *domain.Customer) { c.Kind = domain.KindLead })
	for _, c := range []struct {
		id    string
		grade string
	}{
		// Default policy: 60 value (none yet), 40 fit: a qualified lead
		// (4 × 25 BANT) and a customer have fit 100 → 40 → D; an
		// unqualified lead 0 → F.
		{lead.ID, "D"}, {cust.ID, "D"}, {empty.ID, "F"},
	} {
		g, err := e.svc.GetCustomerGrade(e.ctx, domain.CustomerRef{ID: c.id})
		if err != nil || g.Grade.Grade != c.grade || !strings.Contains(g.Explanation, "default policy") {
			t.Fatalf("grade of %s = %+v, %v; want %s", c.id, g, err, c.grade)
		}
	}
	changes, _, err := e.svc.ListGradeChanges(e.ctx, domain.ListGradeChangesRequest{Customer: domain.CustomerRef{ExternalID: "lead"}})
	if err != nil || len(changes) != 1 || changes[0].From != "" || changes[0].To != "D" || changes[0].Cause != domain.CauseCreated {
		t.Fatalf("lead's changes = %+v, %v", changes, err)
	}
	// The lead's qualification improves (decision moves into the window):
	// a qualification_changed event for rules, and a new grade if it moved.
	m := e.model("sales")
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Qualified", EventKind: domain.EventKindQualificationChanged, Points: 10, Condition: `customer.kind == "lead"`})
	if got := e.score("lead", m.ID, time.Time{}); got != 10 {
		t.Fatalf("qualification at creation scored %d, want 10", got)
	}
	if _, err := e.svc.UpdateCustomer(e.ctx, empty.ID, "", func(c *domain.Customer) error {
		c.Qualification.Need, c.Qualification.Authority = "reporting", domain.AuthorityBudgetApprover
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.score("empty", m.ID, time.Time{}); got != 10 {
		t.Fatalf("a qualification change scored %d, want 10", got)
	}
	changes, _, _ = e.svc.ListGradeChanges(e.ctx, domain.ListGradeChangesRequest{Customer: domain.CustomerRef{ExternalID: "empty"}})
	if len(changes) != 2 || changes[0].Cause != domain.CauseCustomerUpdated || changes[0].From != "F" || changes[0].To != "E" {
		t.Fatalf("empty's changes = %+v (need and authority: fit 50 → composite 20 → E)", changes)
	}
}

func TestListTopCustomers(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(366))
	m := seedRules(e)
	seed(e, 40)
	var all []domain.TopCustomer
	token := ""
	for {
		page, err := e.svc.ListTopCustomers(e.ctx, domain.ListTopCustomersRequest{Order: domain.TopByScore, PageSize: 7, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if page.Model == nil || page.Model.ID != m.ID {
			t.Fatalf("model = %+v", page.Model)
		}
		all = append(all, page.Customers...)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(all) != 40 {
		t.Fatalf("listed %d customers, want 40", len(all))
	}
	for i := range all {
		if all[i].Score != e.score(all[i].Customer.ExternalID, m.ID, time.Time{}) {
			t.Fatalf("row %d: score %d", i, all[i].Score)
		}
		if i > 0 && (all[i].Score > all[i-1].Score || (all[i].Score == all[i-1].Score && all[i].Customer.ID < all[i-1].Customer.ID)) {
			t.Fatalf("not by score: %d then %d", all[i-1].Score, all[i].Score)
		}
		if all[i].Grade.Grade == "" {
			t.Fatalf("row %d has no grade", i)
		}
	}
	byGrade, err := e.svc.ListTopCustomers(e.ctx, domain.ListTopCustomersRequest{Order: domain.TopByGrade, PageSize: 40})
	if err != nil || len(byGrade.Customers) != 40 {
		t.Fatalf("by grade: %d, %v", len(byGrade.Customers), err)
	}
	for i := 1; i < 40; i++ {
		a, b := byGrade.Customers[i-1].Grade, byGrade.Customers[i].Grade
		if a.Rank > b.Rank || (a.Rank == b.Rank && a.Composite < b.Composite) {
			t.Fatalf("not by grade: %+v then %+v", a, b)
		}
	}
	for _, o := range []domain.TopOrder{domain.TopByPredictedValue, domain.TopByValueAtRisk} {
		page, err := e.svc.ListTopCustomers(e.ctx, domain.ListTopCustomersRequest{Order: o, PageSize: 5})
		if err != nil || len(page.Customers) != 5 || page.NextPageToken == "" {
			t.Fatalf("%s: %d, %v", o, len(page.Customers), err)
		}
	}
	_, err = e.svc.ListTopCustomers(e.ctx, domain.ListTopCustomersRequest{Order: "fame"})
	wantViolation(t, "unknown order", err, "order_by", "must be")
}

func TestUnjustifiedComplaintLowersTheScore(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	m := e.model("service")
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50})
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Unjustified complaints", EventKind: domain.EventKindComplaintResolvedUnjustified, Points: -40,
		HasValidity: true, Validity: 365 * 24 * time.Hour})
	e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Poor ratings", EventKind: domain.EventKindRating, Points: -10, Condition: `event.rating <= 2`})
	e.customer("ada")
	e.orders(scoringOrder("o1", "ada", 100, scoringDay(1)))
	want := func(what string, points int64) {
		t.Helper()
		if got := e.score("ada", m.ID, time.Time{}); got != points {
			t.Fatalf("%s: score %d, want %d", what, got, points)
		}
	}
	want("an order", 50)
	c, _, err := e.svc.SubmitFeedback(e.ctx, domain.Feedback{ExternalID: "f1", Customer: domain.CustomerRef{ExternalID: "ada"},
		Kind: domain.FeedbackComplaint, Text: "late delivery", OccurredAt: scoringDay(2)})
	if err != nil {
		t.Fatal(err)
	}
	want("an open complaint", 50)
	step := func(to domain.ComplaintStatus, note string) {
		t.Helper()
		if _, err := e.svc.TransitionComplaint(e.ctx, domain.TransitionRequest{ID: c.ID, To: to, Note: note}); err != nil {
			t.Fatalf("→ %s: %v", to, err)
		}
	}
	step(domain.ComplaintInProgress, "")
	step(domain.ComplaintResolvedUnjustified, "the parcel was delivered on time")
	want("a complaint resolved as unjustified", 10)
	step(domain.ComplaintOpen, "new evidence")
	want("the complaint reopened", 50)
	step(domain.ComplaintResolvedJustified, "it was late after all")
	want("the complaint resolved as justified", 50)
	for i, score := range []int{4, 1} {
		if _, _, err := e.svc.SubmitFeedback(e.ctx, domain.Feedback{ExternalID: fmt.Sprintf("r%d", i), Customer: domain.CustomerRef{ExternalID: "ada"},
			Kind: domain.FeedbackRating, Score: score, HasScore: true, OccurredAt: scoringDay(3 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	want("ratings of 4 and 1", 40)
}

func TestRuleAndPolicyChangesAreAudited(t *testing.T) {
	t.Parallel()
	e := newScoringEnv(t, scoringDay(10))
	m := e.model("sales")
	r := e.rule(domain.ScoringRule{ModelID: m.ID, Name: "Orders", EventKind: domain.EventKindOrder, Points: 50})
	if _, err := e.svc.UpdateScoringRule(e.ctx, r.ID, "", func(r *domain.ScoringRule) error { r.Points = 60; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.DeleteScoringRule(e.ctx, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateGradingPolicy(e.ctx, domain.DefaultGradingPolicy(), ""); err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.svc.ListAuditEvents(e.ctx, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i]
		got = append(got, fmt.Sprintf("%s %s %v %v", ev.Action, ev.ResourceType, ev.Before != nil, ev.After != nil))
		if ev.KeyID != "admin" || ev.Role != domain.RoleAdmin {
			t.Errorf("%s by %s as %s", ev.Action, ev.KeyID, ev.Role)
		}
	}
	want := []string{
		"scoring_rule.create scoring_rule false true",
		"scoring_rule.update scoring_rule true true",
		"scoring_rule.delete scoring_rule true false",
		"grading_policy.update grading_policy false true",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit log = %v, want %v", got, want)
	}
}

// TestGradeDistribution checks the grade histogram on both stores: every
// grade of the policy in its order, with as many customers as hold it
// (counted one by one here), and grades of an earlier policy after them.
func TestGradeDistribution(t *testing.T) {
	t.Parallel()
	for _, st := range scoringStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := newScoringEnvOn(t, scoringDay(10), st.open(t))
			var ids []string
			for i, q := range []domain.Qualification{
				{Budget: domain.MoneyFromFloat(5000), Authority: domain.AuthorityDecisionMaker, Need: "CRM", DecisionTime: scoringDay(40)},
				{Need: "CRM"}, {}, {}, {Need: "reporting", Authority: domain.AuthorityBudgetApprover},
			} {
				c := e.customer(fmt.Sprintf("lead%d", i), func(c *domain.Customer) { c.Kind, c.Qualification = domain.KindLead, q })
				ids = append(ids, c.ID)
			}
			ids = append(ids, e.customer("cust").ID)
			want := map[string]int64{}
			for _, id := range ids {
				g, err := e.svc.GetCustomerGrade(e.ctx, domain.CustomerRef{ID: id})
				if err != nil {
					t.Fatal(err)
				}
				want[g.Grade.Grade]++
			}
			d, err := e.svc.GradeDistribution(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			var letters []string
			for _, g := range d.Grades {
				letters = append(letters, g.Grade)
				if g.Customers != want[g.Grade] {
					t.Errorf("grade %s: %d customers, want %d", g.Grade, g.Customers, want[g.Grade])
				}
			}
			if !slices.Equal(letters, domain.DefaultGradingPolicy().Grades) || d.Customers != int64(len(ids)) || d.PolicyVersion != 0 {
				t.Fatalf("distribution = %+v", d)
			}
			// A policy of three grades: everyone is re-graded under it.
			pol := domain.DefaultGradingPolicy()
			pol.Grades, pol.Cutoffs = []string{"Hot", "Warm", "Cold"}, []float64{30, 10}
			if _, err := e.svc.UpdateGradingPolicy(e.ctx, pol, ""); err != nil {
				t.Fatal(err)
			}
			d, err = e.svc.GradeDistribution(e.ctx)
			if err != nil {
				t.Fatal(err)
			}
			letters = letters[:0]
			for _, g := range d.Grades {
				letters = append(letters, g.Grade)
			}
			if !slices.Equal(letters, []string{"Hot", "Warm", "Cold"}) || d.Customers != int64(len(ids)) || d.PolicyVersion != 1 {
				t.Fatalf("after the policy change: %+v", d)
			}
		})
	}
}
