package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/rfm"
)

// assessedFixture is a tenant of 30 customers, 24 of them assessed with
// values that tie in every field (including negative predicted values and
// equal P(alive)), and 6 not assessed.
func assessedFixture(t *testing.T, s domain.Store) (domain.Tenant, []domain.Customer) {
	t.Helper()
	tn := newTenant(t, s)
	var cs []domain.Customer
	for i := range 30 {
		cs = append(cs, upsertItem(tn, fmt.Sprintf("c%02d", i), fmt.Sprintf("Customer %d", i%4), t0))
	}
	outs := upsert(t, s, tn, t0, cs...)
	var as []domain.Assessment
	for i, o := range outs[:24] {
		a := assessment(o.Customer.ID, domain.LifecycleStages[i%len(domain.LifecycleStages)], i)
		a.PredictedValue = domain.Money(100 * (i%5 - 1)) // -100 … 300
		a.ValueAtRisk = domain.Money(25 * (i % 3))
		a.PAlive = float64(i%4) / 4
		if i%6 == 0 {
			a.RFM, a.Segment = rfm.Cell{}, rfm.Unknown // no purchase: no cell
		}
		as = append(as, a)
	}
	put(t, s, tn, as...)
	all, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 100})
	if err != nil || len(all) != 30 {
		t.Fatalf("ListCustomers: %d, %v", len(all), err)
	}
	return tn, all
}

var assessListTests = []test{
	{"Assess/ListFilter", func(t *testing.T, s domain.Store) {
		tn, all := assessedFixture(t, s)
		values := map[string][]any{
			"predicted_value": {domain.Money(-100), domain.Money(0), domain.Money(150), domain.Money(300)},
			"value_at_risk":   {domain.Money(0), domain.Money(25)},
			"p_alive":         {0.0, 0.25, 0.6, 1.0},
			"recency_score":   {int64(0), int64(1), int64(3), int64(5)},
			"frequency_score": {int64(0), int64(2)},
			"monetary_score":  {int64(1), int64(6)},
			"churn_level":     {"none", "low", "medium", "high", "bogus", ""},
			"rfm_segment":     {"", "champions", "lost", "unknown", "new", "zzz"},
			"lifecycle_stage": {"unknown", "lead", "new", "active", "at_risk", "churned", "reactivated", "a"},
		}
		ops := []domain.Op{domain.OpEq, domain.OpNe, domain.OpLt, domain.OpLe, domain.OpGt, domain.OpGe}
		checked := 0
		for field, vs := range values {
			if _, ok := domain.CustomerFields[field]; !ok {
				t.Fatalf("%s is not a filterable field", field)
			}
			for _, v := range vs {
				for _, op := range ops {
					f := domain.Filter{cond(field, op, v)}
					var want []string
					for i := range all {
						if f.Matches(&all[i]) {
							want = append(want, all[i].ExternalID)
						}
					}
					rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: f, Limit: 100})
					if err != nil {
						t.Fatalf("%s: %v", describe(f[0]), err)
					}
					got := extIDs(rows)
					slices.Sort(got)
					if !slices.Equal(got, want) {
						t.Errorf("filter %s: got %v, want %v", describe(f[0]), got, want)
					}
					if len(want) > 0 && len(want) < len(all) {
						checked++
					}
				}
			}
		}
		if checked < 100 {
			t.Fatalf("only %d filters select some but not all customers", checked)
		}
		// Hand-checked: the stage names of customers not assessed.
		rows, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: domain.Filter{cond("lifecycle_stage", domain.OpEq, "unknown"),
			cond("churn_level", domain.OpEq, "none"), cond("rfm_segment", domain.OpEq, "")}, Limit: 100})
		wantEqual(t, "not assessed", extIDs(rows), []string{"c24", "c25", "c26", "c27", "c28", "c29"})
	}},
	{"Assess/ListOrder", func(t *testing.T, s domain.Store) {
		tn, all := assessedFixture(t, s)
		ids := func(cs []domain.Customer) []string {
			out := make([]string, len(cs))
			for i, c := range cs {
				out[i] = c.ID
			}
			return out
		}
		high := domain.Filter{cond("churn_level", domain.OpEq, "high")}
		var allHigh []domain.Customer
		for i := range all {
			if high.Matches(&all[i]) {
				allHigh = append(allHigh, all[i])
			}
		}
		for _, field := range []string{"predicted_value", "value_at_risk", "p_alive"} {
			for _, desc := range []bool{false, true} {
				o := domain.Order{Field: field, Desc: desc}
				for _, limit := range []int{1, 4, 7, 30} {
					got := listAll(t, s, tn, domain.CustomerQuery{Order: o}, limit)
					if !slices.Equal(ids(got), ids(sorted(all, o))) {
						t.Errorf("order %v, %d per page: rows missing, repeated or out of order", o, limit)
					}
					got = listAll(t, s, tn, domain.CustomerQuery{Order: o, Filter: high}, limit)
					if !slices.Equal(ids(got), ids(sorted(allHigh, o))) {
						t.Errorf("high churn by %v, %d per page: rows missing, repeated or out of order", o, limit)
					}
				}
			}
		}
		// Hand-checked: the most valuable first: the four of 300 (c04, c09,
		// c14, c19), the highest id first, then one of 200.
		top, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: domain.Order{Field: "predicted_value", Desc: true}, Limit: 5})
		got := extIDs(top)
		slices.Sort(got[:4])
		if !slices.Equal(got[:4], []string{"c04", "c09", "c14", "c19"}) || top[0].ID < top[1].ID || top[4].Assessment.PredictedValue != 200 {
			t.Fatalf("top 5 by predicted value: %v", extIDs(top))
		}
		// A cursor in a float order need not name a stored value.
		o := domain.Order{Field: "p_alive"}
		rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: o, After: &domain.Cursor{Value: 0.3, ID: domain.NewID()}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		sortedAll := sorted(all, o)
		i := slices.IndexFunc(sortedAll, func(c domain.Customer) bool { return c.Assessment.PAlive > 0.3 })
		if !slices.Equal(ids(rows), ids(sortedAll[i:])) {
			t.Fatalf("after p_alive 0.3: %d rows, want %d", len(rows), len(sortedAll)-i)
		}
		_, err = s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: o, After: &domain.Cursor{Value: domain.Money(1), ID: domain.NewID()}, Limit: 10})
		wantErr(t, "money cursor in a float order", err, domain.ErrInvalid)
	}},
}
