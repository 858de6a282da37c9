package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// listRelationTests cover ListCustomers' conditions on what a customer row
// does not carry: its stored grade and its segment memberships.
var listRelationTests = []test{
	{"List/FilterGradeAndSegment", testListRelations},
	{"List/FilterRelationsRejected", testListRelationsRejected},
}

// testListRelations grades five customers of six (A, A, B, C, "é" — a
// label need not be a letter), puts three in a static segment and one in
// another, mirrors all of it in a neighbouring tenant, and checks every
// grade and segment condition, alone, combined, with other conditions and
// across pages, against the answer computed here.
func testListRelations(t *testing.T, s domain.Store) {
	tn, other := newTenant(t, s), newTenant(t, s)
	cs := newCustomers(t, s, tn, "a1", "a2", "b1", "c1", "x1", "none")
	theirs := newCustomers(t, s, other, "a1", "a2", "b1", "c1", "x1", "none")
	grades := map[string]string{"a1": "A", "a2": "A", "b1": "B", "c1": "C", "x1": "é"}
	for _, tenantCs := range []struct {
		tn domain.Tenant
		cs []domain.Customer
	}{{tn, cs}, {other, theirs}} {
		err := s.UpdateScoring(ctx(t), tenantCs.tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
			var ups []domain.ScoringUpdate
			for _, c := range b.Customers {
				if g, ok := grades[c.Customer.ExternalID]; ok {
					gr := gradeOf(c.Customer, g, int(g[0]-'A'), 50)
					ups = append(ups, domain.ScoringUpdate{CustomerID: c.Customer.ID, Grade: &gr})
				}
			}
			return ups, nil
		})
		if err != nil {
			t.Fatalf("UpdateScoring: %v", err)
		}
	}
	vip := newSegment(t, s, tn, "vip", domain.SegmentStatic, "")
	solo := newSegment(t, s, tn, "solo", domain.SegmentStatic, "")
	empty := newSegment(t, s, tn, "empty", domain.SegmentStatic, "")
	byExt := map[string]string{}
	for _, c := range cs {
		byExt[c.ExternalID] = c.ID
	}
	if _, err := s.ChangeStaticMembers(ctx(t), tn.ID, vip.ID, []string{byExt["a1"], byExt["b1"], byExt["none"]}, nil, t0); err != nil {
		t.Fatalf("ChangeStaticMembers: %v", err)
	}
	if _, err := s.ChangeStaticMembers(ctx(t), tn.ID, solo.ID, []string{byExt["a2"]}, nil, t0); err != nil {
		t.Fatalf("ChangeStaticMembers: %v", err)
	}
	// The neighbour's segment of the same name holds every one of its
	// customers: none of it may leak into tn's answers.
	theirVIP := newSegment(t, s, other, "vip", domain.SegmentStatic, "")
	var theirIDs []string
	for _, c := range theirs {
		theirIDs = append(theirIDs, c.ID)
	}
	if _, err := s.ChangeStaticMembers(ctx(t), other.ID, theirVIP.ID, theirIDs, nil, t0); err != nil {
		t.Fatalf("ChangeStaticMembers: %v", err)
	}
	// Leaving a segment leaves the filter's answer too.
	if _, err := s.ChangeStaticMembers(ctx(t), tn.ID, vip.ID, []string{byExt["c1"]}, nil, t0); err != nil {
		t.Fatalf("ChangeStaticMembers: %v", err)
	}
	if _, err := s.ChangeStaticMembers(ctx(t), tn.ID, vip.ID, nil, []string{byExt["c1"]}, t0.Add(time.Minute)); err != nil {
		t.Fatalf("ChangeStaticMembers: %v", err)
	}

	member := map[string][]string{vip.ID: {"a1", "b1", "none"}, solo.ID: {"a2"}, empty.ID: nil, theirVIP.ID: nil}
	grade := func(ext string) string { return grades[ext] }
	want := func(f domain.Filter) []string {
		var out []string
		for _, c := range cs {
			ok := true
			for _, cd := range f {
				switch cd.Field {
				case "grade":
					r := strings.Compare(grade(c.ExternalID), cd.Value.(string))
					ok = ok && map[domain.Op]bool{domain.OpEq: r == 0, domain.OpNe: r != 0, domain.OpLt: r < 0,
						domain.OpLe: r <= 0, domain.OpGt: r > 0, domain.OpGe: r >= 0}[cd.Op]
				case "segment":
					ok = ok && slices.Contains(member[cd.Value.(string)], c.ExternalID) == (cd.Op == domain.OpEq)
				case "external_id":
					ok = ok && (c.ExternalID == cd.Value.(string)) == (cd.Op == domain.OpEq)
				}
			}
			if ok {
				out = append(out, c.ExternalID)
			}
		}
		return out
	}
	var filters []domain.Filter
	for _, v := range []string{"A", "B", "C", "é", "", "Z", "a"} {
		for _, op := range []domain.Op{domain.OpEq, domain.OpNe, domain.OpLt, domain.OpLe, domain.OpGt, domain.OpGe} {
			filters = append(filters, domain.Filter{cond("grade", op, v)})
		}
	}
	for _, id := range []string{vip.ID, solo.ID, empty.ID, theirVIP.ID} {
		filters = append(filters, domain.Filter{cond("segment", domain.OpEq, id)}, domain.Filter{cond("segment", domain.OpNe, id)})
	}
	filters = append(filters,
		domain.Filter{cond("grade", domain.OpEq, "A"), cond("segment", domain.OpEq, vip.ID)},
		domain.Filter{cond("grade", domain.OpNe, "A"), cond("segment", domain.OpEq, vip.ID)},
		domain.Filter{cond("grade", domain.OpEq, ""), cond("segment", domain.OpEq, vip.ID)},
		domain.Filter{cond("segment", domain.OpEq, vip.ID), cond("segment", domain.OpNe, solo.ID)},
		domain.Filter{cond("segment", domain.OpEq, vip.ID), cond("segment", domain.OpEq, solo.ID)},
		domain.Filter{cond("grade", domain.OpEq, "A"), cond("external_id", domain.OpNe, "a1")},
		// An upper-case id names the same segment.
		domain.Filter{cond("segment", domain.OpEq, strings.ToUpper(vip.ID))},
	)
	for _, f := range filters {
		w := want(domain.Filter{})
		for _, cd := range f {
			if cd.Field == "segment" {
				cd.Value = strings.ToLower(cd.Value.(string))
			}
			w = intersect(w, want(domain.Filter{cd}))
		}
		rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: f, Limit: 100})
		if err != nil {
			t.Fatalf("%s: %v", describeFilter(f), err)
		}
		got := extIDs(rows)
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("filter %s: got %v, want %v", describeFilter(f), got, w)
		}
	}
	// Paging through a segment's members, two at a time, by external id
	// descending: every member once, in order.
	f := domain.Filter{cond("segment", domain.OpEq, vip.ID)}
	o := domain.Order{Field: "external_id", Desc: true}
	var got []string
	var after *domain.Cursor
	for range 5 {
		rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: f, Order: o, After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, extIDs(rows)...)
		if len(rows) < 2 {
			break
		}
		last := rows[len(rows)-1]
		after = &domain.Cursor{Value: last.SortValue(o.Field), ID: last.ID}
	}
	if w := []string{"none", "b1", "a1"}; !slices.Equal(got, w) {
		t.Errorf("paged members of vip = %v, want %v", got, w)
	}
	// A deleted segment has no members; an erased customer no grade.
	if err := s.DeleteSegment(ctx(t), tn.ID, vip.ID, 0, t0.Add(time.Hour)); err != nil {
		t.Fatalf("DeleteSegment: %v", err)
	}
	if rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: f, Limit: 10}); err != nil || len(rows) != 0 {
		t.Errorf("members of a deleted segment = %v, %v; want none", extIDs(rows), err)
	}
	if err := s.DeleteCustomer(ctx(t), tn.ID, byExt["a1"]); err != nil {
		t.Fatalf("DeleteCustomer: %v", err)
	}
	if rows, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: domain.Filter{cond("grade", domain.OpEq, "A")}, Limit: 10}); err != nil || !slices.Equal(extIDs(rows), []string{"a2"}) {
		t.Errorf("grade A after erasing a1 = %v, %v; want [a2]", extIDs(rows), err)
	}
}

// testListRelationsRejected: a segment condition must name a segment id
// with = or !=; anything else is InvalidArgument on filter, in both stores.
func testListRelationsRejected(t *testing.T, s domain.Store) {
	tn := newTenant(t, s)
	newCustomers(t, s, tn, "a")
	for _, c := range []domain.Condition{
		cond("segment", domain.OpEq, "vip"),
		cond("segment", domain.OpEq, ""),
		cond("segment", domain.OpLt, domain.NewID()),
	} {
		_, err := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Filter: domain.Filter{c}, Limit: 10})
		var v *domain.ValidationError
		if !errors.Is(err, domain.ErrInvalid) || !errors.As(err, &v) || v.Violations[0].Field != "filter" {
			t.Errorf("%s: err = %v, want InvalidArgument on filter", describe(c), err)
		}
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func describeFilter(f domain.Filter) string {
	var parts []string
	for _, c := range f {
		parts = append(parts, describe(c))
	}
	return strings.Join(parts, " AND ")
}
