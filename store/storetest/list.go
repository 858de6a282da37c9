package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// listFixture is a tenant with six customers whose fields and statistics
// the listing tests filter and sort on; labels name them by id.
type listFixture struct {
	tenant domain.Tenant
	labels map[string]string // customer id -> label c1..c6
}

func newListFixture(t *testing.T, s domain.Store) listFixture {
	t.Helper()
	tn := newTenant(t, s)
	f := listFixture{tenant: tn, labels: map[string]string{}}
	add := func(label, ext string, kind domain.CustomerKind, name, country string, created time.Time, mutate func(*domain.Customer)) {
		c := newCustomer(tn, ext)
		c.Kind, c.DisplayName, c.Country, c.CreateTime, c.UpdateTime = kind, name, country, created, created
		if mutate != nil {
			mutate(&c)
		}
		f.labels[create(t, s, c).ID] = label
	}
	add("c1", "c1", domain.KindLead, "Alpha", "PL", t0.Add(1*time.Hour), func(c *domain.Customer) {
		c.City, c.Region, c.Industry, c.CompanySize = "Kraków", "Małopolska", "retail", domain.Size51to200
		c.AgeBand, c.Gender, c.AcquisitionChannel, c.Email = domain.Age25to34, domain.GenderOther, "fair", "c1@example.com"
		c.UpdateTime = t0.Add(10 * time.Hour)
	})
	add("c2", "c2", domain.KindCustomer, "beta", "PL", t0.Add(2*time.Hour), nil)
	add("c3", "c3", domain.KindCustomer, "Gamma", "DE", t0.Add(2*time.Hour), nil)
	add("c4", "c4", domain.KindCustomer, "Alpha", "", t0.Add(3*time.Hour), nil)
	add("c5", "", domain.KindLead, "Émile", "DE", t0.Add(4*time.Hour), nil)
	add("c6", "c6", domain.KindCustomer, "alpha", "PL", t0.Add(5*time.Hour), nil)
	record(t, s, tn,
		order("t1", "c2", 100, day(1, 12)),
		order("t2", "c3", 50, day(2, 8)), order("t3", "c3", 50, day(3, 9)),
		order("t4", "c4", 10, day(1, 1)), order("t5", "c4", 10, day(1, 2)), order("t6", "c4", 10, day(1, 3)),
		order("t7", "c6", 500, day(5, 0)),
	)
	return f
}

func (f listFixture) names(cs []domain.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = f.labels[c.ID]
	}
	return out
}

// listAll pages through a query limit rows at a time and returns every row.
func listAll(t *testing.T, s domain.Store, tenant domain.Tenant, q domain.CustomerQuery, limit int) []domain.Customer {
	t.Helper()
	var all []domain.Customer
	q.Limit = limit
	for page := 0; ; page++ {
		rows, err := s.ListCustomers(ctx(t), tenant.ID, q)
		if err != nil {
			t.Fatalf("ListCustomers(page %d): %v", page, err)
		}
		if len(rows) > limit {
			t.Fatalf("page %d has %d rows, limit %d", page, len(rows), limit)
		}
		all = append(all, rows...)
		if len(rows) < limit {
			return all
		}
		last := rows[len(rows)-1]
		q.After = &domain.Cursor{Value: last.SortValue(q.Order.Field), ID: last.ID}
		if page > 1000 {
			t.Fatal("paging does not end")
		}
	}
}

// sorted returns cs in the order a listing by o must return them.
func sorted(cs []domain.Customer, o domain.Order) []domain.Customer {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b domain.Customer) int {
		c := domain.Compare(a.SortValue(o.Field), b.SortValue(o.Field))
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if o.Desc {
			c = -c
		}
		return c
	})
	return out
}

func orders() []domain.Order {
	var out []domain.Order
	for f := range domain.CustomerOrderFields {
		out = append(out, domain.Order{Field: f}, domain.Order{Field: f, Desc: true})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

var listTests = []test{
	{"List/Filter", func(t *testing.T, s domain.Store) {
		f := newListFixture(t, s)
		all := []string{"c1", "c2", "c3", "c4", "c5", "c6"}
		type filterCase struct {
			filter domain.Filter
			want   []string
		}
		cases := []filterCase{
			{nil, all},
			{domain.Filter{cond("kind", domain.OpEq, "lead")}, []string{"c1", "c5"}},
			{domain.Filter{cond("kind", domain.OpNe, "lead")}, []string{"c2", "c3", "c4", "c6"}},
			{domain.Filter{cond("country", domain.OpEq, "PL")}, []string{"c1", "c2", "c6"}},
			{domain.Filter{cond("country", domain.OpEq, "")}, []string{"c4"}},
			{domain.Filter{cond("display_name", domain.OpEq, "Alpha")}, []string{"c1", "c4"}}, // case-sensitive
			{domain.Filter{cond("display_name", domain.OpNe, "Alpha")}, []string{"c2", "c3", "c5", "c6"}},
			{domain.Filter{cond("external_id", domain.OpEq, "")}, []string{"c5"}},
			{domain.Filter{cond("external_id", domain.OpEq, "c3")}, []string{"c3"}},
			{domain.Filter{cond("email", domain.OpEq, "c1@example.com")}, []string{"c1"}},
			{domain.Filter{cond("region", domain.OpEq, "Małopolska")}, []string{"c1"}},
			{domain.Filter{cond("city", domain.OpEq, "Kraków")}, []string{"c1"}},
			{domain.Filter{cond("industry", domain.OpEq, "retail")}, []string{"c1"}},
			{domain.Filter{cond("company_size", domain.OpEq, "51_200")}, []string{"c1"}},
			{domain.Filter{cond("age_band", domain.OpEq, "25_34")}, []string{"c1"}},
			{domain.Filter{cond("gender", domain.OpEq, "other")}, []string{"c1"}},
			{domain.Filter{cond("acquisition_channel", domain.OpEq, "fair")}, []string{"c1"}},
			{domain.Filter{cond("orders", domain.OpEq, int64(0))}, []string{"c1", "c5"}},
			{domain.Filter{cond("orders", domain.OpNe, int64(3))}, []string{"c1", "c2", "c3", "c5", "c6"}},
			{domain.Filter{cond("orders", domain.OpLt, int64(2))}, []string{"c1", "c2", "c5", "c6"}},
			{domain.Filter{cond("orders", domain.OpLe, int64(2))}, []string{"c1", "c2", "c3", "c5", "c6"}},
			{domain.Filter{cond("orders", domain.OpGt, int64(1))}, []string{"c3", "c4"}},
			{domain.Filter{cond("orders", domain.OpGe, int64(1))}, []string{"c2", "c3", "c4", "c6"}},
			{domain.Filter{cond("purchase_days", domain.OpEq, int64(2))}, []string{"c3"}},
			{domain.Filter{cond("purchase_days", domain.OpEq, int64(1))}, []string{"c2", "c4", "c6"}},
			{domain.Filter{cond("total_spend", domain.OpEq, domain.Money(100))}, []string{"c2", "c3"}},
			{domain.Filter{cond("total_spend", domain.OpGe, domain.Money(100))}, []string{"c2", "c3", "c6"}},
			{domain.Filter{cond("total_spend", domain.OpLt, domain.Money(100))}, []string{"c1", "c4", "c5"}},
			{domain.Filter{cond("create_time", domain.OpGt, t0.Add(2*time.Hour))}, []string{"c4", "c5", "c6"}},
			{domain.Filter{cond("create_time", domain.OpLe, t0.Add(2*time.Hour))}, []string{"c1", "c2", "c3"}},
			{domain.Filter{cond("create_time", domain.OpEq, t0.Add(2*time.Hour))}, []string{"c2", "c3"}},
			// Times compare at microsecond precision, as stored.
			{domain.Filter{cond("create_time", domain.OpEq, t0.Add(2*time.Hour+999*time.Nanosecond))}, []string{"c2", "c3"}},
			{domain.Filter{cond("update_time", domain.OpGe, t0.Add(10*time.Hour))}, []string{"c1"}},
			// A zero time (no purchase yet) is earlier than every time.
			{domain.Filter{cond("first_purchase_time", domain.OpLt, day(2, 0))}, []string{"c1", "c2", "c4", "c5"}},
			{domain.Filter{cond("first_purchase_time", domain.OpEq, time.Time{})}, []string{"c1", "c5"}},
			{domain.Filter{cond("last_purchase_time", domain.OpGt, time.Time{})}, []string{"c2", "c3", "c4", "c6"}},
			{domain.Filter{cond("last_purchase_time", domain.OpGe, day(3, 0))}, []string{"c3", "c6"}},
			{domain.Filter{cond("last_purchase_time", domain.OpNe, day(1, 12))}, []string{"c1", "c3", "c4", "c5", "c6"}},
			{domain.Filter{cond("country", domain.OpEq, "PL"), cond("orders", domain.OpGe, int64(1))}, []string{"c2", "c6"}},
			{domain.Filter{cond("country", domain.OpEq, "PL"), cond("country", domain.OpEq, "DE")}, nil},
		}
		// The fields of the stored assessment: none is stored here, so
		// every customer has the zero assessment's values.
		var none domain.Customer
		for _, field := range []string{"predicted_value", "value_at_risk", "p_alive", "churn_level", "rfm_segment",
			"lifecycle_stage", "recency_score", "frequency_score", "monetary_score"} {
			if _, ok := domain.CustomerFields[field]; !ok {
				continue
			}
			zero := none.FieldValue(field)
			cases = append(cases,
				filterCase{domain.Filter{cond(field, domain.OpEq, zero)}, all},
				filterCase{domain.Filter{cond(field, domain.OpNe, zero)}, nil})
		}
		cases = append(cases, filterCase{domain.Filter{cond("p_alive", domain.OpLt, 0.5)}, all})
		for _, tc := range cases {
			rows, err := s.ListCustomers(ctx(t), f.tenant.ID, domain.CustomerQuery{Filter: tc.filter, Limit: 100})
			if err != nil {
				t.Fatalf("%v: %v", tc.filter, err)
			}
			got := f.names(rows)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				var conds []string
				for _, c := range tc.filter {
					conds = append(conds, describe(c))
				}
				t.Errorf("filter %q: got %v, want %v", strings.Join(conds, " AND "), got, tc.want)
			}
		}
	}},
	{"List/Order", func(t *testing.T, s domain.Store) {
		f := newListFixture(t, s)
		all, err := s.ListCustomers(ctx(t), f.tenant.ID, domain.CustomerQuery{Limit: 100})
		if err != nil || len(all) != 6 {
			t.Fatalf("ListCustomers = %d rows, %v", len(all), err)
		}
		// Strings sort byte-wise, as the C collation does.
		byName, _ := s.ListCustomers(ctx(t), f.tenant.ID, domain.CustomerQuery{Order: domain.Order{Field: "display_name"}, Limit: 100})
		gotNames := make([]string, len(byName))
		for i, c := range byName {
			gotNames[i] = c.DisplayName
		}
		wantEqual(t, "names in order", gotNames, []string{"Alpha", "Alpha", "Gamma", "alpha", "beta", "Émile"})
		// Hand-checked: the most valuable first, ties by id.
		bySpend, _ := s.ListCustomers(ctx(t), f.tenant.ID, domain.CustomerQuery{Order: domain.Order{Field: "total_spend", Desc: true}, Limit: 2})
		if got := f.names(bySpend); got[0] != "c6" || (got[1] != "c2" && got[1] != "c3") {
			t.Fatalf("top spenders %v", got)
		}
		for _, o := range orders() {
			want := f.names(sorted(all, o))
			for _, limit := range []int{1, 2, 6, 7} {
				got := f.names(listAll(t, s, f.tenant, domain.CustomerQuery{Order: o}, limit))
				if !slices.Equal(got, want) {
					t.Errorf("order %v, %d per page: got %v, want %v", o, limit, got, want)
				}
			}
		}
	}},
	{"List/PagingWithTies", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		rng := rand.New(rand.NewPCG(1, 2))
		names := []string{"Ann", "Bob", "ann"}
		var txs []domain.Transaction
		for i := range 40 {
			ext := fmt.Sprintf("p%02d", i)
			c := newCustomer(tn, ext)
			if i%7 == 0 {
				c.ExternalID = "" // several customers share the empty external id
			}
			c.DisplayName = names[rng.IntN(len(names))]
			c.CreateTime = t0.Add(time.Duration(rng.IntN(3)) * time.Hour)
			c.UpdateTime = c.CreateTime.Add(time.Duration(rng.IntN(2)) * time.Hour)
			if i%2 == 0 {
				c.Kind = domain.KindLead
			}
			create(t, s, c)
			if c.ExternalID != "" {
				for j := range rng.IntN(3) {
					txs = append(txs, order(fmt.Sprintf("%s-%d", ext, j), ext, domain.Money(10*rng.IntN(3)), day(rng.IntN(2), 12)))
				}
			}
		}
		record(t, s, tn, txs...)
		all, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 1000})
		if err != nil || len(all) != 40 {
			t.Fatalf("ListCustomers = %d rows, %v", len(all), err)
		}
		leads := domain.Filter{cond("kind", domain.OpEq, "lead")}
		var allLeads []domain.Customer
		for _, c := range all {
			if c.Kind == domain.KindLead {
				allLeads = append(allLeads, c)
			}
		}
		ids := func(cs []domain.Customer) []string {
			out := make([]string, len(cs))
			for i, c := range cs {
				out[i] = c.ID
			}
			return out
		}
		for _, o := range orders() {
			for _, limit := range []int{1, 3, 4} {
				got := listAll(t, s, tn, domain.CustomerQuery{Order: o}, limit)
				if !slices.Equal(ids(got), ids(sorted(all, o))) {
					t.Errorf("order %v, %d per page: rows missing, repeated or out of order", o, limit)
				}
				got = listAll(t, s, tn, domain.CustomerQuery{Order: o, Filter: leads}, limit)
				if !slices.Equal(ids(got), ids(sorted(allLeads, o))) {
					t.Errorf("leads by %v, %d per page: rows missing, repeated or out of order", o, limit)
				}
			}
		}
		// A cursor need not name a stored row: the page starts strictly after it.
		o := domain.Order{Field: "display_name"}
		want := sorted(all, o)
		cur := &domain.Cursor{Value: "Bob", ID: "00000000-0000-0000-0000-000000000000"}
		rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: o, After: cur, Limit: 1000})
		if err != nil {
			t.Fatalf("ListCustomers after a foreign cursor: %v", err)
		}
		i := slices.IndexFunc(want, func(c domain.Customer) bool { return c.DisplayName == "Bob" })
		if !slices.Equal(ids(rows), ids(want[i:])) {
			t.Fatalf("after (Bob, nil id): got %d rows, want %d", len(rows), len(want)-i)
		}
		// A zero time cursor pages through customers without purchases.
		o = domain.Order{Field: "last_purchase_time", Desc: true}
		want = sorted(all, o)
		cur = &domain.Cursor{Value: time.Time{}, ID: "ffffffff-ffff-ffff-ffff-ffffffffffff"}
		rows, _ = s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Order: o, After: cur, Limit: 1000})
		i = slices.IndexFunc(want, func(c domain.Customer) bool { return c.Purchases.LastPurchaseTime.IsZero() })
		if !slices.Equal(ids(rows), ids(want[i:])) {
			t.Fatalf("after (zero time, max id) descending: got %d rows, want %d", len(rows), len(want)-i)
		}
	}},
	{"List/Invalid", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "c1"))
		id := domain.NewID()
		for name, q := range map[string]domain.CustomerQuery{
			"unorderable field":        {Order: domain.Order{Field: "country"}, Limit: 10},
			"unknown filter field":     {Filter: domain.Filter{cond("secret", domain.OpEq, "x")}, Limit: 10},
			"unknown operator":         {Filter: domain.Filter{cond("country", "~", "x")}, Limit: 10},
			"filter value type":        {Filter: domain.Filter{cond("orders", domain.OpEq, "1")}, Limit: 10},
			"money as int":             {Filter: domain.Filter{cond("total_spend", domain.OpEq, int64(1))}, Limit: 10},
			"cursor value type":        {Order: domain.Order{Field: "create_time"}, After: &domain.Cursor{Value: "x", ID: id}, Limit: 10},
			"cursor of another order":  {Order: domain.Order{Field: "orders"}, After: &domain.Cursor{Value: domain.Money(1), ID: id}, Limit: 10},
			"malformed cursor id":      {After: &domain.Cursor{Value: t0, ID: "x"}, Limit: 10},
			"no limit":                 {},
			"filter string with NUL":   {Filter: domain.Filter{cond("country", domain.OpEq, "\x00")}, Limit: 10},
			"time out of range":        {Filter: domain.Filter{cond("create_time", domain.OpEq, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}, Limit: 10},
			"nil filter value":         {Filter: domain.Filter{cond("country", domain.OpEq, nil)}, Limit: 10},
			"NaN":                      {Filter: domain.Filter{cond("p_alive", domain.OpEq, math.NaN())}, Limit: 10},
			"cursor time out of range": {After: &domain.Cursor{Value: time.UnixMicro(1 << 62), ID: id}, Limit: 10},
		} {
			_, err := s.ListCustomers(ctx(t), tn.ID, q)
			wantErr(t, name, err, domain.ErrInvalid)
		}
	}},
}

// cond returns the condition "field op value".
func cond(field string, op domain.Op, value any) domain.Condition {
	return domain.Condition{Field: field, Op: op, Value: value}
}
