package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// newModel creates a scoring model named name in tenant.
func newModel(t *testing.T, s domain.Store, tenant domain.Tenant, name string) domain.ScoringModel {
	t.Helper()
	m, err := s.CreateScoringModel(ctx(t), domain.ScoringModel{ID: domain.NewID(), TenantID: tenant.ID, Name: name, Description: "about " + name, CreateTime: t0})
	if err != nil {
		t.Fatalf("CreateScoringModel(%q): %v", name, err)
	}
	return m
}

// newRule creates a rule of model m and returns it with the model's revision.
func newRule(t *testing.T, s domain.Store, m domain.ScoringModel, name string, kind domain.EventKind, points int64) (domain.ScoringRule, int64) {
	t.Helper()
	r := domain.ScoringRule{ID: domain.NewID(), TenantID: m.TenantID, ModelID: m.ID, Name: name, EventKind: kind, Points: points,
		HasValidity: true, Validity: 180 * 24 * time.Hour, Condition: `event.amount >= 0.0`, Cap: 500, Version: 1, CreateTime: t0, UpdateTime: t0}
	out, rev, err := s.CreateScoringRule(ctx(t), r)
	if err != nil {
		t.Fatalf("CreateScoringRule(%q): %v", name, err)
	}
	return out, rev
}

// entry is a ledger entry of customer c in model m.
func entry(m domain.ScoringModel, r domain.ScoringRule, c domain.Customer, event string, points int64, at time.Time, expires time.Time) domain.LedgerEntry {
	return domain.LedgerEntry{
		ID: domain.LedgerEntryID(r.ID, r.Version, r.EventKind, event), ModelID: m.ID, CustomerID: c.ID, RuleID: r.ID,
		RuleVersion: r.Version, EventKind: r.EventKind, EventID: event, EventRef: "crm-" + event, Points: points,
		AwardedAt: at, ExpiresAt: expires,
	}
}

// setLedgers stores ledgers (by customer id) through UpdateScoring and
// returns the batches it saw.
func setLedgers(t *testing.T, s domain.Store, tenant domain.Tenant, ledgers map[string][]domain.LedgerEntry) {
	t.Helper()
	var ids []string
	for id := range ledgers {
		ids = append(ids, id)
	}
	err := s.UpdateScoring(ctx(t), tenant.ID, domain.ScoringQuery{CustomerIDs: ids}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
		var ups []domain.ScoringUpdate
		for _, in := range b.Customers {
			ups = append(ups, domain.ScoringUpdate{CustomerID: in.Customer.ID, SetLedger: true, Ledger: ledgers[in.Customer.ID]})
		}
		return ups, nil
	})
	if err != nil {
		t.Fatalf("UpdateScoring: %v", err)
	}
}

// ledgerOf returns a customer's stored ledger.
func ledgerOf(t *testing.T, s domain.Store, tenant domain.Tenant, id string) []domain.LedgerEntry {
	t.Helper()
	l, err := s.CustomerLedger(ctx(t), tenant.ID, id)
	if err != nil {
		t.Fatalf("CustomerLedger: %v", err)
	}
	return l
}

// readAll reads every batch of q and returns the inputs by customer id.
func readAll(t *testing.T, s domain.Store, tenant domain.Tenant, q domain.ScoringQuery) (map[string]domain.ScoringInput, *domain.ScoringBatch) {
	t.Helper()
	out := map[string]domain.ScoringInput{}
	var first *domain.ScoringBatch
	var mu = make(chan struct{}, 1)
	err := s.ReadScoring(ctx(t), tenant.ID, q, func(b *domain.ScoringBatch) error {
		mu <- struct{}{}
		defer func() { <-mu }()
		if first == nil {
			first = b
		}
		if len(b.Customers) > domain.ScoringBatchSize {
			t.Errorf("a batch of %d customers", len(b.Customers))
		}
		for _, in := range b.Customers {
			if _, dup := out[in.Customer.ID]; dup {
				t.Errorf("customer %s in two batches", in.Customer.ID)
			}
			out[in.Customer.ID] = in
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadScoring: %v", err)
	}
	return out, first
}

func gradeOf(c domain.Customer, grade string, rank int, composite float64) domain.CustomerGrade {
	return domain.CustomerGrade{CustomerID: c.ID, Grade: grade, Rank: rank, Composite: composite, Value: composite / 2, Engagement: 1, Fit: 100, PolicyVersion: 1, GradeTime: t0}
}

var scoringTests = []test{
	{"Scoring/Models", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		b := newModel(t, s, tn, "b2b")
		a := newModel(t, s, tn, "a2c")
		wantEqual(t, "created", b, domain.ScoringModel{ID: b.ID, TenantID: tn.ID, Name: "b2b", Description: "about b2b", CreateTime: t0})
		_, err := s.CreateScoringModel(ctx(t), domain.ScoringModel{ID: domain.NewID(), TenantID: tn.ID, Name: "b2b", CreateTime: t0})
		wantErr(t, "same name", err, domain.ErrConflict)
		newModel(t, s, other, "b2b") // names are per tenant

		got, err := s.GetScoringModel(ctx(t), tn.ID, b.ID)
		wantEqual(t, "get", got, b)
		wantErr(t, "get", err, nil)
		list, err := s.ListScoringModels(ctx(t), tn.ID)
		if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
			t.Fatalf("list = %+v, %v; want a2c, b2b", list, err)
		}
		_, err = s.GetScoringModel(ctx(t), other.ID, b.ID)
		wantErr(t, "another tenant's", err, domain.ErrNotFound)
		wantErr(t, "delete another tenant's", s.DeleteScoringModel(ctx(t), other.ID, b.ID), domain.ErrNotFound)

		// Deleting a model takes its rules (and their versions) and its ledger.
		c := create(t, s, newCustomer(tn, "c"))
		ra, _ := newRule(t, s, a, "orders", domain.EventKindOrder, 10)
		rb, _ := newRule(t, s, b, "orders", domain.EventKindOrder, 20)
		setLedgers(t, s, tn, map[string][]domain.LedgerEntry{c.ID: {entry(a, ra, c, "e1", 10, t0, time.Time{}), entry(b, rb, c, "e1", 20, t0, time.Time{})}})
		if err := s.DeleteScoringModel(ctx(t), tn.ID, b.ID); err != nil {
			t.Fatalf("DeleteScoringModel: %v", err)
		}
		_, err = s.GetScoringModel(ctx(t), tn.ID, b.ID)
		wantErr(t, "deleted", err, domain.ErrNotFound)
		_, err = s.GetScoringRule(ctx(t), tn.ID, rb.ID)
		wantErr(t, "its rule", err, domain.ErrNotFound)
		_, err = s.ScoringRuleVersions(ctx(t), tn.ID, rb.ID)
		wantErr(t, "its rule's versions", err, domain.ErrNotFound)
		if l := ledgerOf(t, s, tn, c.ID); len(l) != 1 || l[0].ModelID != a.ID {
			t.Fatalf("ledger after deleting model b = %+v", l)
		}
		wantErr(t, "delete again", s.DeleteScoringModel(ctx(t), tn.ID, b.ID), domain.ErrNotFound)
	}},
	{"Scoring/Rules", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		m := newModel(t, s, tn, "m")
		m2 := newModel(t, s, tn, "m2")
		r, rev := newRule(t, s, m, "orders", domain.EventKindOrder, 50)
		if rev != 1 || r.Version != 1 || r.TenantID != tn.ID || r.ModelID != m.ID || r.Validity != 180*24*time.Hour || !r.HasValidity {
			t.Fatalf("created rule %+v at revision %d", r, rev)
		}
		got, err := s.GetScoringRule(ctx(t), tn.ID, r.ID)
		wantErr(t, "get", err, nil)
		wantEqual(t, "get", got, r)
		_, err = s.GetScoringRule(ctx(t), other.ID, r.ID)
		wantErr(t, "another tenant's", err, domain.ErrNotFound)
		_, _, err = s.CreateScoringRule(ctx(t), domain.ScoringRule{ID: domain.NewID(), TenantID: tn.ID, ModelID: domain.NewID(), Name: "x", EventKind: domain.EventKindOrder, Points: 1, CreateTime: t0, UpdateTime: t0})
		wantErr(t, "in a missing model", err, domain.ErrNotFound)
		_, _, err = s.CreateScoringRule(ctx(t), domain.ScoringRule{ID: domain.NewID(), TenantID: other.ID, ModelID: m.ID, Name: "x", EventKind: domain.EventKindOrder, Points: 1, CreateTime: t0, UpdateTime: t0})
		wantErr(t, "in another tenant's model", err, domain.ErrNotFound)

		// Update: only at the stored version; the model cannot change.
		upd := r
		upd.Name, upd.Points, upd.HasValidity, upd.Validity, upd.Cap, upd.UpdateTime = "all orders", 60, false, 0, 0, t0.Add(time.Hour)
		upd.Version = 7
		_, _, err = s.UpdateScoringRule(ctx(t), upd)
		wantErr(t, "stale update", err, domain.ErrStale)
		upd.Version, upd.ModelID = 1, m2.ID
		u, rev, err := s.UpdateScoringRule(ctx(t), upd)
		if err != nil || rev != 2 || u.Version != 2 || u.Name != "all orders" || u.Points != 60 || u.HasValidity || u.ModelID != m.ID || !u.CreateTime.Equal(t0) || !u.UpdateTime.Equal(t0.Add(time.Hour)) {
			t.Fatalf("updated = %+v at %d, %v", u, rev, err)
		}
		_, _, err = s.UpdateScoringRule(ctx(t), domain.ScoringRule{ID: domain.NewID(), TenantID: tn.ID, Name: "x", Version: 1})
		wantErr(t, "update of a missing rule", err, domain.ErrNotFound)

		r2, rev := newRule(t, s, m, "clicks", domain.EventKindEmailClicked, 5)
		r3, _ := newRule(t, s, m2, "calls", domain.EventKindCall, 7)
		if rev != 3 {
			t.Fatalf("revision of m after three changes = %d", rev)
		}
		list, err := s.ListScoringRules(ctx(t), tn.ID, m.ID)
		if err != nil || len(list) != 2 || list[0].ID != u.ID || list[1].ID != r2.ID {
			t.Fatalf("rules of m = %+v, %v", list, err)
		}
		all, err := s.ListScoringRules(ctx(t), tn.ID, "")
		if err != nil || len(all) != 3 {
			t.Fatalf("every rule = %+v, %v", all, err)
		}
		if none, _ := s.ListScoringRules(ctx(t), other.ID, ""); len(none) != 0 {
			t.Fatalf("another tenant sees %+v", none)
		}

		// Delete: only at the stored version; the deletion is the last version.
		_, _, err = s.DeleteScoringRule(ctx(t), tn.ID, u.ID, 1, t0.Add(2*time.Hour))
		wantErr(t, "stale delete", err, domain.ErrStale)
		old, rev, err := s.DeleteScoringRule(ctx(t), tn.ID, u.ID, 2, t0.Add(2*time.Hour))
		if err != nil || rev != 4 || old.Version != 2 || old.Name != "all orders" {
			t.Fatalf("deleted %+v at %d, %v", old, rev, err)
		}
		_, err = s.GetScoringRule(ctx(t), tn.ID, u.ID)
		wantErr(t, "deleted", err, domain.ErrNotFound)
		_, _, err = s.DeleteScoringRule(ctx(t), tn.ID, u.ID, 0, t0)
		wantErr(t, "deleted again", err, domain.ErrNotFound)
		vs, err := s.ScoringRuleVersions(ctx(t), tn.ID, u.ID)
		if err != nil || len(vs) != 3 {
			t.Fatalf("versions = %+v, %v", vs, err)
		}
		wantEqual(t, "version 1", vs[0], r)
		wantEqual(t, "version 2", vs[1], u)
		if vs[2].Version != 3 || !vs[2].DeleteTime.Equal(t0.Add(2*time.Hour)) || vs[2].Name != "all orders" {
			t.Fatalf("deletion version = %+v", vs[2])
		}
		if _, _, err := s.DeleteScoringRule(ctx(t), tn.ID, r3.ID, 0, t0); err != nil {
			t.Fatalf("delete at any version: %v", err)
		}

		// The model's revision counts the changes; the scored revision only rises.
		if err := s.MarkScored(ctx(t), tn.ID, m.ID, 3); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkScored(ctx(t), tn.ID, m.ID, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkScored(ctx(t), tn.ID, m.ID, 99); err != nil {
			t.Fatal(err)
		}
		got2, _ := s.GetScoringModel(ctx(t), tn.ID, m.ID)
		if got2.Revision != 4 || got2.ScoredRevision != 4 {
			t.Fatalf("model = %+v, want revision 4 (4 changes of its rules), scored 4 (capped at the revision)", got2)
		}
		wantErr(t, "mark a missing model", s.MarkScored(ctx(t), tn.ID, domain.NewID(), 1), domain.ErrNotFound)
	}},
	{"Scoring/Batches", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		y := create(t, s, newCustomer(tn, "y"))
		z := create(t, s, newCustomer(tn, "z"))
		// Without a scoring model nothing needs events: none are read.
		record(t, s, tn, order("o1", "x", 100_000_000, day(1, 10)))
		in, _ := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x.ID}, Events: true})
		if len(in[x.ID].Events) != 0 {
			t.Fatalf("events read for a tenant without rules: %+v", in[x.ID].Events)
		}
		m := newModel(t, s, tn, "m")
		// With a model but no rules yet, lead conversion reads them.
		in, _ = readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x.ID}, Events: true})
		if ev := in[x.ID].Events; len(ev) != 1 || ev[0].Ref != "o1" {
			t.Fatalf("events of a tenant with a model and no rules = %+v, want order o1", ev)
		}
		r, _ := newRule(t, s, m, "orders", domain.EventKindOrder, 50)

		o2 := withMargin(order("o2", "x", 30_000_000, day(2, 9)), 5_000_000)
		o2.Quantity = 3
		record(t, s, tn, o2, refund("f1", "x", 10_000_000, day(3, 0)))
		it := interaction("i1", "x", day(2, 9))
		it.Type, it.Channel, it.Direction = domain.InteractionEmailClicked, "newsletter", domain.DirectionInbound
		recordInteractions(t, s, tn, domain.RecordOptions{}, it)
		recordReferrals(t, s, tn, domain.RecordOptions{}, referral("r1", ref("x"), ref("y"), day(4, 0)), referral("r2", ref("z"), ref("x"), day(5, 0)))
		qid := domain.QualificationChangeID(x.ID, 2)
		n, err := s.RecordQualificationChanges(ctx(t), tn.ID, []domain.QualificationChange{{ID: qid, CustomerID: x.ID, At: day(6, 0), Qualification: domain.Qualification{Budget: 5_000_000_000, Need: "CRM"}}})
		if err != nil || n != 1 {
			t.Fatalf("RecordQualificationChanges = %d, %v", n, err)
		}

		in, first := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{z.ID, x.ID, "not-an-id", domain.NewID(), x.ID}, Events: true})
		if len(in) != 2 || len(first.Rules) != 1 || first.Rules[0].ID != r.ID || first.HasPolicy {
			t.Fatalf("batch: %d customers, rules %+v, policy %v", len(in), first.Rules, first.HasPolicy)
		}
		if in[x.ID].Customer.ExternalID != "x" || in[x.ID].Customer.Purchases.Orders != 2 {
			t.Fatalf("customer x = %+v", in[x.ID].Customer)
		}
		txs := listTxs(t, s, tn, x.ID)
		var kinds []domain.EventKind
		for _, e := range in[x.ID].Events {
			kinds = append(kinds, e.Kind)
		}
		wantEqual(t, "x's event kinds, in time order", kinds, []domain.EventKind{domain.EventKindOrder, domain.EventKindOrder, domain.EventKindEmailClicked,
			domain.EventKindRefund, domain.EventKindReferralGiven, domain.EventKindReferralReceived, domain.EventKindQualificationChanged})
		evs := in[x.ID].Events
		// o2 and i1 share a time: ordered by id.
		if evs[1].ID > evs[2].ID {
			t.Fatalf("events at one time not in id order: %+v", evs[1:3])
		}
		var o2ev, itev domain.ScoringEvent
		for _, e := range evs {
			switch e.Ref {
			case "o2":
				o2ev = e
			case "i1":
				itev = e
			}
		}
		var o2id string
		for _, tx := range txs {
			if tx.ExternalID == "o2" {
				o2id = tx.ID
			}
		}
		wantEqual(t, "order event", o2ev, domain.ScoringEvent{Kind: domain.EventKindOrder, ID: o2id, Ref: "o2", At: day(2, 9), Amount: 30_000_000, Margin: 5_000_000, Quantity: 3})
		if itev.Channel != "newsletter" || itev.Direction != "inbound" || itev.Kind != domain.EventKindEmailClicked {
			t.Fatalf("interaction event = %+v", itev)
		}
		if q := evs[6]; q.ID != qid || !q.At.Equal(day(6, 0)) {
			t.Fatalf("qualification event = %+v", q)
		}
		if kz := in[z.ID].Events; len(kz) != 1 || kz[0].Kind != domain.EventKindReferralGiven || kz[0].Ref != "r2" {
			t.Fatalf("z's events = %+v", kz)
		}

		// UpdateScoring writes ledgers, grades and changes; a later ledger
		// replaces the earlier one entry for entry.
		e1 := entry(m, r, x, "e1", 50, day(1, 0), day(181, 0))
		e2 := entry(m, r, x, "e2", 50, day(2, 0), time.Time{})
		e3 := entry(m, r, y, "e3", -20, day(2, 0), day(30, 0))
		e3.Capped = true
		g := gradeOf(x, "B", 1, 66.5)
		change := domain.GradeChange{ID: domain.NewID(), CustomerID: x.ID, To: "B", Time: t0, PolicyVersion: 1, Cause: domain.CauseCreated, Reason: "because"}
		err = s.UpdateScoring(ctx(t), tn.ID, domain.ScoringQuery{CustomerIDs: []string{x.ID, y.ID}}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			if len(b.Customers) != 2 || b.Customers[0].Events != nil {
				t.Errorf("batch without events: %+v", b.Customers)
			}
			return []domain.ScoringUpdate{
				{CustomerID: x.ID, SetLedger: true, Ledger: []domain.LedgerEntry{e2, e1}, Grade: &g, Change: &change},
				{CustomerID: y.ID, SetLedger: true, Ledger: []domain.LedgerEntry{e3}},
			}, nil
		})
		if err != nil {
			t.Fatalf("UpdateScoring: %v", err)
		}
		wantEqual(t, "x's ledger", ledgerOf(t, s, tn, x.ID), []domain.LedgerEntry{e1, e2})
		wantEqual(t, "y's ledger", ledgerOf(t, s, tn, y.ID), []domain.LedgerEntry{e3})
		in, _ = readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x.ID, y.ID}})
		wantEqual(t, "x's stored grade", in[x.ID].Grade, g)
		wantEqual(t, "y has no grade", in[y.ID].Grade, domain.CustomerGrade{})
		wantEqual(t, "x's ledger in a batch", in[x.ID].Ledger, []domain.LedgerEntry{e1, e2})

		e2b := e2
		e2b.Points = 30
		e4 := entry(m, r, x, "e4", 50, day(3, 0), time.Time{})
		setLedgers(t, s, tn, map[string][]domain.LedgerEntry{x.ID: {e2b, e4}})
		wantEqual(t, "x's replaced ledger", ledgerOf(t, s, tn, x.ID), []domain.LedgerEntry{e2b, e4})

		// A failing callback writes nothing.
		boom := errors.New("boom")
		err = s.UpdateScoring(ctx(t), tn.ID, domain.ScoringQuery{CustomerIDs: []string{x.ID}}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("failing callback: %v", err)
		}
		wantEqual(t, "x's ledger after a failed update", ledgerOf(t, s, tn, x.ID), []domain.LedgerEntry{e2b, e4})
	}},
	{"Scoring/FeedbackEvents", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		y := create(t, s, newCustomer(tn, "y"))
		m := newModel(t, s, tn, "m")
		newRule(t, s, m, "r", domain.EventKindComplaintResolvedUnjustified, -40)
		c := submit(t, s, newFeedback(tn, x.ID, "f1", domain.FeedbackComplaint, day(1, 0)))
		c = transition(t, s, tn, c, domain.ComplaintInProgress, day(2, 0))
		transition(t, s, tn, c, domain.ComplaintResolvedUnjustified, day(3, 0))
		n := submit(t, s, scored(newFeedback(tn, x.ID, "f2", domain.FeedbackNPS, day(4, 0)), 3))
		submit(t, s, newFeedback(tn, y.ID, "f3", domain.FeedbackPraise, day(1, 0)))
		in, _ := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x.ID, y.ID}, Events: true})
		wantEqual(t, "x's feedback events", in[x.ID].Events, []domain.ScoringEvent{
			{Kind: domain.EventKindComplaint, ID: c.ID, Ref: "f1", At: day(1, 0), Channel: "email"},
			{Kind: domain.EventKindComplaintResolvedUnjustified, ID: c.ID + "/resolution/2", Ref: "f1", At: day(3, 0), Channel: "email"},
			{Kind: domain.EventKindNPS, ID: n.ID, Ref: "f2", At: day(4, 0), Channel: "email", Rating: 3},
		})
		if ev := in[y.ID].Events; len(ev) != 1 || ev[0].Kind != domain.EventKindPraise {
			t.Fatalf("y's events = %+v", ev)
		}
	}},
	{"Scoring/AllCustomersInBatches", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		n := domain.ScoringBatchSize + 7
		var cs []domain.Customer
		for i := range n {
			cs = append(cs, upsertItem(tn, "c"+string(rune('a'+i%26))+time.Duration(i).String(), "C", t0))
		}
		for start := 0; start < n; start += domain.MaxBatch {
			upsert(t, s, tn, t0, cs[start:min(start+domain.MaxBatch, n)]...)
		}
		other := newTenant(t, s)
		create(t, s, newCustomer(other, "theirs"))
		in, _ := readAll(t, s, tn, domain.ScoringQuery{All: true})
		if len(in) != n {
			t.Fatalf("read %d customers, want %d", len(in), n)
		}
		seen := 0
		err := s.UpdateScoring(ctx(t), tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			var ups []domain.ScoringUpdate
			for _, c := range b.Customers {
				g := gradeOf(c.Customer, "C", 2, 50)
				ups = append(ups, domain.ScoringUpdate{CustomerID: c.Customer.ID, Grade: &g})
			}
			return ups, nil
		})
		if err != nil {
			t.Fatalf("UpdateScoring: %v", err)
		}
		top, err := s.TopGrades(ctx(t), tn.ID, n+10, nil)
		if err != nil || len(top) != n {
			t.Fatalf("graded %d (%v), want %d", len(top), err, n)
		}
		_ = seen
	}},
	{"Scoring/TopScores", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		m := newModel(t, s, tn, "m")
		m2 := newModel(t, s, tn, "m2")
		r, _ := newRule(t, s, m, "r", domain.EventKindOrder, 10)
		r2, _ := newRule(t, s, m2, "r", domain.EventKindOrder, 10)
		var cs []domain.Customer
		for _, ext := range []string{"a", "b", "c", "d", "e"} {
			cs = append(cs, create(t, s, newCustomer(tn, ext)))
		}
		a, b, c, d, e := cs[0], cs[1], cs[2], cs[3], cs[4]
		setLedgers(t, s, tn, map[string][]domain.LedgerEntry{
			a.ID: {entry(m, r, a, "1", 30, day(0, 0), day(10, 0)), entry(m, r, a, "2", 5, day(1, 0), time.Time{})}, // 35 until day 10, then 5
			b.ID: {entry(m, r, b, "3", 20, day(0, 0), time.Time{}), entry(m2, r2, b, "3", 1000, day(0, 0), time.Time{})},
			c.ID: {entry(m, r, c, "4", -10, day(0, 0), time.Time{})},
			d.ID: {entry(m, r, d, "5", 20, day(5, 0), time.Time{})}, // not yet on day 2
			// e has no entries: 0
		})
		ids := func(rows []domain.CustomerScore) []string {
			var out []string
			for _, row := range rows {
				out = append(out, row.CustomerID)
			}
			return out
		}
		sortedIDs := func(x, y domain.Customer) []string {
			if x.ID < y.ID {
				return []string{x.ID, y.ID}
			}
			return []string{y.ID, x.ID}
		}
		rows, err := s.TopScores(ctx(t), tn.ID, m.ID, day(6, 0), 10, nil)
		wantErr(t, "TopScores", err, nil)
		want := append(append([]string{a.ID}, sortedIDs(b, d)...), e.ID, c.ID)
		wantEqual(t, "by score on day 6", ids(rows), want)
		wantEqual(t, "scores on day 6", rows[0], domain.CustomerScore{CustomerID: a.ID, Score: 35})
		rows, _ = s.TopScores(ctx(t), tn.ID, m.ID, day(11, 0), 10, nil)
		if rows[len(rows)-1].CustomerID != c.ID || rows[0].Score != 20 {
			t.Fatalf("day 11: %+v (a's 30 expired on day 10)", rows)
		}
		// Pages: after (20, first of b/d) comes the second of them.
		page1, _ := s.TopScores(ctx(t), tn.ID, m.ID, day(6, 0), 2, nil)
		page2, _ := s.TopScores(ctx(t), tn.ID, m.ID, day(6, 0), 2, &domain.ScoreCursor{Score: page1[1].Score, ID: page1[1].CustomerID})
		page3, _ := s.TopScores(ctx(t), tn.ID, m.ID, day(6, 0), 2, &domain.ScoreCursor{Score: page2[1].Score, ID: page2[1].CustomerID})
		wantEqual(t, "pages", append(append(ids(page1), ids(page2)...), ids(page3)...), want)
		// Another model, another score; an unknown model scores everyone 0.
		rows, _ = s.TopScores(ctx(t), tn.ID, m2.ID, day(6, 0), 1, nil)
		wantEqual(t, "model 2", rows, []domain.CustomerScore{{CustomerID: b.ID, Score: 1000}})
		rows, _ = s.TopScores(ctx(t), tn.ID, domain.NewID(), day(6, 0), 10, nil)
		if len(rows) != 5 || rows[0].Score != 0 {
			t.Fatalf("unknown model: %+v", rows)
		}
	}},
	{"Grading/Policies", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		_, err := s.GetGradingPolicy(ctx(t), tn.ID)
		wantErr(t, "no policy yet", err, domain.ErrNotFound)
		p := domain.DefaultGradingPolicy()
		p.TenantID, p.Version, p.CreateTime, p.CalibrateTime = tn.ID, 1, t0, t0
		p.Fit = []domain.FitCriterion{{Name: "Poland", Condition: `customer.country == "PL"`, Points: 12.5}}
		p.EngagementModelID, p.EngagementWeight, p.EngagementTarget = domain.NewID(), 10, 250
		p.BANT.BudgetMin = 1_000_000
		p.ValueSource = domain.ValueHistorical
		saved, err := s.SaveGradingPolicy(ctx(t), p)
		wantErr(t, "save", err, nil)
		wantEqual(t, "saved", saved, p)
		got, err := s.GetGradingPolicy(ctx(t), tn.ID)
		wantErr(t, "get", err, nil)
		wantEqual(t, "get", got, p)
		_, err = s.SaveGradingPolicy(ctx(t), p)
		wantErr(t, "the same version again", err, domain.ErrStale)
		_, err = s.GetGradingPolicy(ctx(t), other.ID)
		wantErr(t, "another tenant's", err, domain.ErrNotFound)

		p2 := p
		p2.Version, p2.Thresholds, p2.Cutoffs, p2.Cuts, p2.CalibrateTime = 2, domain.ThresholdsPercentile, []float64{10, 20, 40, 70, 90}, nil, time.Time{}
		if _, err := s.SaveGradingPolicy(ctx(t), p2); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "cuts of an old version", s.SetGradingCuts(ctx(t), tn.ID, 1, []float64{1}, t0), domain.ErrStale)
		cuts := []float64{91.5, 80, 60.25, 30, 10}
		if err := s.SetGradingCuts(ctx(t), tn.ID, 2, cuts, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetGradingPolicy(ctx(t), tn.ID)
		if got.Version != 2 || !slices.Equal(got.Cuts, cuts) || !got.CalibrateTime.Equal(t0.Add(time.Hour)) || got.Thresholds != domain.ThresholdsPercentile {
			t.Fatalf("calibrated policy = %+v", got)
		}
		in, first := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{create(t, s, newCustomer(tn, "c")).ID}})
		if len(in) != 1 || !first.HasPolicy || first.Policy.Version != 2 {
			t.Fatalf("the batch's policy = %+v", first.Policy)
		}
	}},
	{"Grading/GradesAndChanges", func(t *testing.T, s domain.Store) {
		tn, other := newTenant(t, s), newTenant(t, s)
		var cs []domain.Customer
		for _, ext := range []string{"a", "b", "c", "d"} {
			cs = append(cs, create(t, s, newCustomer(tn, ext)))
		}
		a, b, c, d := cs[0], cs[1], cs[2], cs[3]
		grades := map[string]domain.CustomerGrade{a.ID: gradeOf(a, "C", 2, 45), b.ID: gradeOf(b, "A", 0, 90), c.ID: gradeOf(c, "C", 2, 48.25)}
		var changes []domain.GradeChange
		for i, cu := range []domain.Customer{a, b, c, a} {
			changes = append(changes, domain.GradeChange{ID: domain.NewID(), CustomerID: cu.ID, From: "", To: "C", Time: day(i, 0), PolicyVersion: 1, Cause: domain.CauseEvents, Reason: "reason"})
		}
		changes[3].Time = changes[2].Time // a tie, broken by id
		err := s.UpdateScoring(ctx(t), tn.ID, domain.ScoringQuery{CustomerIDs: []string{a.ID, b.ID, c.ID, d.ID}}, func(bt *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			var ups []domain.ScoringUpdate
			for _, in := range bt.Customers {
				up := domain.ScoringUpdate{CustomerID: in.Customer.ID}
				if g, ok := grades[in.Customer.ID]; ok {
					up.Grade = &g
				}
				ups = append(ups, up)
			}
			for i := range changes {
				ups = append(ups, domain.ScoringUpdate{CustomerID: changes[i].CustomerID, Change: &changes[i]})
			}
			return ups, nil
		})
		if err != nil {
			t.Fatalf("UpdateScoring: %v", err)
		}
		got, err := s.CustomerGrades(ctx(t), tn.ID, []string{a.ID, b.ID, d.ID, "junk"})
		wantErr(t, "CustomerGrades", err, nil)
		wantEqual(t, "grades", got, map[string]domain.CustomerGrade{a.ID: grades[a.ID], b.ID: grades[b.ID]})
		if theirs, _ := s.CustomerGrades(ctx(t), other.ID, []string{a.ID}); len(theirs) != 0 {
			t.Fatalf("another tenant sees %+v", theirs)
		}
		top, err := s.TopGrades(ctx(t), tn.ID, 10, nil)
		wantErr(t, "TopGrades", err, nil)
		wantEqual(t, "by grade", top, []domain.CustomerGrade{grades[b.ID], grades[c.ID], grades[a.ID]})
		page, _ := s.TopGrades(ctx(t), tn.ID, 10, &domain.GradeCursor{Rank: 2, Composite: 48.25, ID: c.ID})
		wantEqual(t, "after c", page, []domain.CustomerGrade{grades[a.ID]})

		newest := slices.Clone(changes)
		slices.SortFunc(newest, func(x, y domain.GradeChange) int {
			if c := y.Time.Compare(x.Time); c != 0 {
				return c
			}
			if x.ID > y.ID {
				return -1
			}
			return 1
		})
		list, err := s.ListGradeChanges(ctx(t), tn.ID, domain.GradeChangeQuery{Limit: 10})
		wantErr(t, "ListGradeChanges", err, nil)
		wantEqual(t, "changes, newest first", list, newest)
		p1, _ := s.ListGradeChanges(ctx(t), tn.ID, domain.GradeChangeQuery{Limit: 2})
		p2, _ := s.ListGradeChanges(ctx(t), tn.ID, domain.GradeChangeQuery{Limit: 2, After: &domain.Cursor{Value: p1[1].Time, ID: p1[1].ID}})
		wantEqual(t, "pages", append(p1, p2...), newest)
		ofA, _ := s.ListGradeChanges(ctx(t), tn.ID, domain.GradeChangeQuery{CustomerID: a.ID, Limit: 10})
		if len(ofA) != 2 || ofA[0].CustomerID != a.ID || ofA[1].CustomerID != a.ID || ofA[0].Time.Before(ofA[1].Time) {
			t.Fatalf("a's changes = %+v", ofA)
		}
		if theirs, _ := s.ListGradeChanges(ctx(t), other.ID, domain.GradeChangeQuery{Limit: 10}); len(theirs) != 0 {
			t.Fatalf("another tenant sees %+v", theirs)
		}
	}},
	{"Scoring/QualificationChanges", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		q1 := domain.Qualification{Budget: 1_000_000, Authority: domain.AuthorityInfluencer, Need: "a CRM", DecisionTime: day(30, 0)}
		change := func(v int64, at time.Time, q domain.Qualification) domain.QualificationChange {
			return domain.QualificationChange{ID: domain.QualificationChangeID(x.ID, v), CustomerID: x.ID, At: at, Qualification: q}
		}
		record := func(cs ...domain.QualificationChange) int {
			t.Helper()
			n, err := s.RecordQualificationChanges(ctx(t), tn.ID, cs)
			if err != nil {
				t.Fatalf("RecordQualificationChanges: %v", err)
			}
			return n
		}
		if n := record(change(1, day(0, 0), domain.Qualification{})); n != 0 {
			t.Fatalf("the empty qualification of a new customer was recorded")
		}
		if n := record(change(2, day(1, 0), q1), domain.QualificationChange{ID: domain.NewID(), CustomerID: domain.NewID(), At: t0, Qualification: q1}); n != 1 {
			t.Fatalf("recorded %d, want 1 (the unknown customer is skipped)", n)
		}
		if n := record(change(2, day(1, 0), q1)); n != 0 {
			t.Fatalf("a resend was recorded again")
		}
		if n := record(change(3, day(2, 0), q1)); n != 0 {
			t.Fatalf("an unchanged qualification was recorded")
		}
		q2 := q1
		q2.Authority = domain.AuthorityDecisionMaker
		if n := record(change(4, day(3, 0), q2)); n != 1 {
			t.Fatalf("a changed qualification was not recorded")
		}
		newModel(t, s, tn, "m")
		m, _ := s.ListScoringModels(ctx(t), tn.ID)
		newRule(t, s, m[0], "q", domain.EventKindQualificationChanged, 5)
		in, _ := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x.ID}, Events: true})
		evs := in[x.ID].Events
		if len(evs) != 2 || evs[0].ID != domain.QualificationChangeID(x.ID, 2) || evs[1].ID != domain.QualificationChangeID(x.ID, 4) || evs[1].Kind != domain.EventKindQualificationChanged {
			t.Fatalf("qualification events = %+v", evs)
		}
	}},
	{"Scoring/DeleteCustomerErasesScores", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		x := create(t, s, newCustomer(tn, "x"))
		y := create(t, s, newCustomer(tn, "y"))
		m := newModel(t, s, tn, "m")
		r, _ := newRule(t, s, m, "r", domain.EventKindOrder, 10)
		n, err := s.RecordQualificationChanges(ctx(t), tn.ID, []domain.QualificationChange{{ID: domain.NewID(), CustomerID: x.ID, At: t0, Qualification: domain.Qualification{Need: "n"}}})
		if err != nil || n != 1 {
			t.Fatal(n, err)
		}
		gx, gy := gradeOf(x, "A", 0, 90), gradeOf(y, "B", 1, 70)
		err = s.UpdateScoring(ctx(t), tn.ID, domain.ScoringQuery{CustomerIDs: []string{x.ID, y.ID}}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			return []domain.ScoringUpdate{
				{CustomerID: x.ID, SetLedger: true, Ledger: []domain.LedgerEntry{entry(m, r, x, "e", 10, t0, time.Time{})}, Grade: &gx,
					Change: &domain.GradeChange{ID: domain.NewID(), CustomerID: x.ID, To: "A", Time: t0, Cause: domain.CauseCreated}},
				{CustomerID: y.ID, SetLedger: true, Ledger: []domain.LedgerEntry{entry(m, r, y, "e", 10, t0, time.Time{})}, Grade: &gy,
					Change: &domain.GradeChange{ID: domain.NewID(), CustomerID: y.ID, To: "B", Time: t0, Cause: domain.CauseCreated}},
			}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteCustomer(ctx(t), tn.ID, x.ID); err != nil {
			t.Fatal(err)
		}
		if l := ledgerOf(t, s, tn, x.ID); len(l) != 0 {
			t.Fatalf("ledger survived: %+v", l)
		}
		if len(ledgerOf(t, s, tn, y.ID)) != 1 {
			t.Fatal("y's ledger went too")
		}
		grades, _ := s.CustomerGrades(ctx(t), tn.ID, []string{x.ID, y.ID})
		wantEqual(t, "grades", grades, map[string]domain.CustomerGrade{y.ID: gy})
		changes, _ := s.ListGradeChanges(ctx(t), tn.ID, domain.GradeChangeQuery{Limit: 10})
		if len(changes) != 1 || changes[0].CustomerID != y.ID {
			t.Fatalf("grade changes after the erasure: %+v", changes)
		}
		// A new customer with the same CRM id starts with nothing.
		x2 := create(t, s, newCustomer(tn, "x"))
		in, _ := readAll(t, s, tn, domain.ScoringQuery{CustomerIDs: []string{x2.ID}, Events: true})
		if got := in[x2.ID]; len(got.Events) != 0 || len(got.Ledger) != 0 || got.Grade.Grade != "" {
			t.Fatalf("new x = %+v", got)
		}
	}},
}
