package postgres

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// listRelationPlans grades the tenant's customers but 1 % (A-F, a sixth
// each), puts a fifth of them in a static segment and returns the
// listings by grade and by segment that TestPlans checks: each must read
// the grades' or the members' index, never scan a table. (A segment of a
// few hundred members is another matter at this size: the planner then
// rightly hashes its members, three pages, against the tenant's 20,000
// assessments and sorts the few rows that join; it is left out.)
func listRelationPlans(t *testing.T, s *Store, tenant string, ids []string, now time.Time) []plan {
	t.Helper()
	ctx := t.Context()
	grades := []string{"A", "B", "C", "D", "E", "F"}
	err := s.UpdateScoring(ctx, tenant, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) ([]domain.ScoringUpdate, error) {
		var ups []domain.ScoringUpdate
		for _, c := range b.Customers {
			h := int(c.Customer.ID[len(c.Customer.ID)-2]) + 256*int(c.Customer.ID[len(c.Customer.ID)-1]) // fn may run concurrently: no shared generator
			if h%100 == 0 {
				continue // not graded
			}
			rank := h % len(grades)
			ups = append(ups, domain.ScoringUpdate{CustomerID: c.Customer.ID, Grade: &domain.CustomerGrade{CustomerID: c.Customer.ID,
				Grade: grades[rank], Rank: rank, Composite: float64(100 - rank*15), GradeTime: now}})
		}
		return ups, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tenant, Name: "vip", Kind: domain.SegmentStatic, CreateTime: now, UpdateTime: now})
	if err != nil {
		t.Fatal(err)
	}
	// The members table holds other segments too, as a tenant's does: a
	// second one of the remaining four fifths.
	others, err := s.CreateSegment(ctx, domain.Segment{ID: domain.NewID(), TenantID: tenant, Name: "others", Kind: domain.SegmentStatic, CreateTime: now, UpdateTime: now})
	if err != nil {
		t.Fatal(err)
	}
	var members, rest []string
	for i, id := range ids {
		if i%5 == 0 {
			members = append(members, id)
		} else {
			rest = append(rest, id)
		}
	}
	if _, err := s.ChangeStaticMembers(ctx, tenant, sg.ID, members, nil, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeStaticMembers(ctx, tenant, others.ID, rest, nil, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE customer_grades, segment_members"); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tenant}
	list := func(name string, f domain.Filter, o domain.Order, uses ...string) plan {
		sql, args := listQuery(tenant, domain.CustomerQuery{Filter: f, Order: o, Limit: 51})
		return plan{name, sc, sql, args, uses, ""}
	}
	grade := func(op domain.Op, v string) domain.Condition {
		return domain.Condition{Field: "grade", Op: op, Value: v}
	}
	member := func(op domain.Op) domain.Condition { return domain.Condition{Field: "segment", Op: op, Value: sg.ID} }
	byValue := domain.Order{Field: "predicted_value", Desc: true}
	byCreate := domain.Order{Field: "create_time"}
	return []plan{
		list("list grade A by predicted value", domain.Filter{grade(domain.OpEq, "A")}, byValue, "customer_grades_grade|customer_grades_pkey"),
		list("list grade A by create time", domain.Filter{grade(domain.OpEq, "A")}, byCreate, "customer_grades_grade|customer_grades_pkey"),
		list("list grade not A by predicted value", domain.Filter{grade(domain.OpNe, "A")}, byValue, "customer_grades_grade|customer_grades_pkey"),
		list("list ungraded by create time", domain.Filter{grade(domain.OpEq, "")}, byCreate, "customer_grades_pkey"),
		list("list graded by create time", domain.Filter{grade(domain.OpNe, "")}, byCreate, "customer_grades_pkey"),
		list("list segment members by predicted value", domain.Filter{member(domain.OpEq)}, byValue, "segment_members_pkey|segment_members_customer"),
		list("list segment members by create time", domain.Filter{member(domain.OpEq)}, byCreate, "segment_members_pkey|segment_members_customer"),
		list("list non-members by create time", domain.Filter{member(domain.OpNe)}, byCreate, "segment_members_pkey|segment_members_customer"),
		list("list grade A members by value at risk", domain.Filter{grade(domain.OpEq, "A"), member(domain.OpEq)},
			domain.Order{Field: "value_at_risk", Desc: true}, "segment_members_pkey|segment_members_customer", "customer_grades_grade|customer_grades_pkey"),
	}
}
