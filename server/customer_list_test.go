package server_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
)

// TestListCustomersByGradeAndSegment: over every transport and store,
// ListCustomers' grade filter returns exactly the customers whose grade
// GetCustomerGrade reports, each listed customer carries that grade, the segment filter returns exactly a static segment's
// members (and != the others), both combine across pages, and bad grade or
// segment values are InvalidArgument on filter.
func TestListCustomersByGradeAndSegment(t *testing.T) {
	forEach(t, func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		// Spend from nothing to 3,000 spreads the default policy's value
		// component, so the customers get several grades.
		var ids []string
		for i, spend := range []string{"", "", "60", "300", "600", "900", "1500", "3000"} {
			ext := fmt.Sprintf("crm-%d", i)
			cu, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: ext, GivenName: ext}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, cu.GetId())
			if spend != "" {
				if _, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
					txn("o-"+ext, ext, spend, "2026-01-15T10:00:00Z")}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		sc := scoringClient(e, viaConnect, adminKey)
		gradeOf := map[string]string{}
		for _, id := range ids {
			g, err := sc.GetCustomerGrade(ctx, &scoringv1.GetCustomerGradeRequest{Ref: &scoringv1.GetCustomerGradeRequest_CustomerId{CustomerId: id}})
			if err != nil {
				t.Fatal(err)
			}
			gradeOf[id] = g.GetGrade()
		}
		distinct := map[string]bool{}
		for _, g := range gradeOf {
			distinct[g] = true
		}
		if len(distinct) < 2 {
			t.Fatalf("grades %v: want customers of at least two grades", gradeOf)
		}
		list := func(filter, order string, size int32) []*customerv1.Customer {
			t.Helper()
			var out []*customerv1.Customer
			token := ""
			for range 20 {
				page, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: filter, OrderBy: order, PageSize: size, PageToken: token})
				if err != nil {
					t.Fatalf("ListCustomers(%q): %v", filter, err)
				}
				out = append(out, page.GetCustomers()...)
				if token = page.GetNextPageToken(); token == "" {
					return out
				}
			}
			t.Fatalf("ListCustomers(%q): too many pages", filter)
			return nil
		}
		idsOf := func(cs []*customerv1.Customer) []string {
			var out []string
			for _, cu := range cs {
				out = append(out, cu.GetId())
			}
			slices.Sort(out)
			return out
		}
		for g := range distinct {
			var want []string
			for id, h := range gradeOf {
				if h == g {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			got := list(fmt.Sprintf("grade = %q", g), "predicted_value desc", 2)
			if !slices.Equal(idsOf(got), want) {
				t.Errorf("grade = %q: got %v, want %v", g, idsOf(got), want)
			}
			for _, cu := range got {
				if cu.GetGrade() != g {
					t.Errorf("customer %s listed with grade %q, want %q", cu.GetExternalId(), cu.GetGrade(), g)
				}
			}
			if n := len(list(fmt.Sprintf("grade != %q", g), "", 0)); n != len(ids)-len(want) {
				t.Errorf("grade != %q: %d customers, want %d", g, n, len(ids)-len(want))
			}
		}
		for _, cu := range list("", "value_at_risk desc", 3) {
			if cu.GetGrade() != gradeOf[cu.GetId()] {
				t.Errorf("customer %s listed with grade %q, GetCustomerGrade says %q", cu.GetExternalId(), cu.GetGrade(), gradeOf[cu.GetId()])
			}
		}

		seg := e.segmentClient(adminKey)
		vip, err := seg.CreateSegment(ctx, &segmentv1.CreateSegmentRequest{
			Segment: &segmentv1.Segment{Name: "vip", Kind: segmentv1.SegmentKind_SEGMENT_KIND_STATIC},
			Members: []*customerv1.CustomerRef{{Ref: &customerv1.CustomerRef_Id{Id: ids[1]}}, {Ref: &customerv1.CustomerRef_ExternalId{ExternalId: "crm-6"}},
				{Ref: &customerv1.CustomerRef_Id{Id: ids[7]}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		members := []string{ids[1], ids[6], ids[7]}
		slices.Sort(members)
		vipFilter := fmt.Sprintf("segment = %q", vip.GetId())
		if got := idsOf(list(vipFilter, "display_name", 2)); !slices.Equal(got, members) {
			t.Errorf("%s: got %v, want %v", vipFilter, got, members)
		}
		if got := list(fmt.Sprintf("segment != %q", vip.GetId()), "", 0); len(got) != len(ids)-3 || slices.ContainsFunc(got, func(cu *customerv1.Customer) bool {
			_, in := slices.BinarySearch(members, cu.GetId())
			return in
		}) {
			t.Errorf("segment != vip: got %v", idsOf(got))
		}
		// A member removed through the API leaves the listing.
		if _, err := seg.RemoveSegmentMembers(ctx, &segmentv1.RemoveSegmentMembersRequest{SegmentId: vip.GetId(),
			Customers: []*customerv1.CustomerRef{{Ref: &customerv1.CustomerRef_Id{Id: ids[1]}}}}); err != nil {
			t.Fatal(err)
		}
		g7 := gradeOf[ids[7]]
		var want []string
		for _, id := range []string{ids[6], ids[7]} {
			if gradeOf[id] == g7 {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		both := fmt.Sprintf("%s AND grade = %q", vipFilter, g7)
		if got := idsOf(list(both, "predicted_value desc", 1)); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", both, got, want)
		}

		for _, bad := range []string{
			`segment = "vip"`, // a name, not an id
			fmt.Sprintf("segment = %q", domain.NewID()),      // no such segment
			`segment < "` + vip.GetId() + `"`,                // membership has no order
			`grade = " A"`,                                   // not a label
			`grade = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"`, // too long for a label
		} {
			_, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: bad})
			wantField(t, err, "filter")
		}
		// Deleting the segment makes its id unknown.
		if _, err := seg.DeleteSegment(ctx, &segmentv1.DeleteSegmentRequest{Id: vip.GetId()}); err != nil {
			t.Fatal(err)
		}
		_, err = c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: vipFilter})
		wantField(t, err, "filter")
	})
}
