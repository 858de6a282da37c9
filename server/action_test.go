package server_test

import (
	"testing"

	"connectrpc.com/connect"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// TestActionTableThroughTheAPI reads and replaces the next-best-action
// table, and reads customers' actions in their assessment and in ranked
// lists filtered by action, over grpc-go, connect-go and Connect JSON, on
// both stores.
func TestActionTableThroughTheAPI(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range []transport{viaGRPC, viaConnect, viaConnectJSON} {
				t.Run(string(tr), func(t *testing.T) {
					t.Parallel()
					e := start(t, st.open(t))
					testActionTable(t, e.client(tr, adminKey), e.rulesClient(tr, adminKey))
				})
			}
		})
	}
}

func testActionTable(t *testing.T, c customerv1connect.CustomerServiceClient, r rulesAPI) {
	ctx := t.Context()
	for _, cu := range []*customerv1.Customer{{ExternalId: "ada", GivenName: "Ada", Country: "PL", City: "Kraków"}, {ExternalId: "bob", GivenName: "Bob", Country: "DE"}} {
		if _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: cu}); err != nil {
			t.Fatal(err)
		}
	}
	def, err := r.GetActionTable(ctx, &scoringv1.GetActionTableRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if def.GetVersion() != 0 || def.GetEtag() != "v0" || len(def.GetRules()) != 5 || def.GetRules()[0].GetAction() != "resolve_complaint" {
		t.Fatalf("default table %v", def)
	}
	// Without orders or complaints, no default rule holds.
	a, err := r.GetCustomerAssessment(ctx, &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_ExternalId{ExternalId: "ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if a.GetAction().GetName() != "none" || a.GetAction().GetRuleIndex() != -1 {
		t.Errorf("ada's action under the default table %v", a.GetAction())
	}

	visit := &scoringv1.ActionRule{Action: "visit", Condition: `customer.country == "PL"`, Reason: "Visit {{ customer.city }}", DueWithinDays: 5}
	// A condition that does not type-check: InvalidArgument with the rule,
	// line and column; a bad name is refused before the domain.
	_, err = r.UpdateActionTable(ctx, &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Rules: []*scoringv1.ActionRule{
		visit, {Action: "mail", Condition: `customer.contry == "PL"`},
	}}})
	wantViolationText(t, err, "action_table.rules[1].condition", "line 1, column 9")
	_, err = r.UpdateActionTable(ctx, &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Rules: []*scoringv1.ActionRule{
		{Action: "mail", Condition: "true", Reason: "Hello {{ customer.nam }}"},
	}}})
	wantViolationText(t, err, "action_table.rules[0].reason", "line 1, column 18")
	_, err = r.UpdateActionTable(ctx, &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Rules: []*scoringv1.ActionRule{
		{Action: "Call Now", Condition: "true"},
	}}})
	wantField(t, err, "action_table.rules[0].action")
	if cur, err := r.GetActionTable(ctx, &scoringv1.GetActionTableRequest{}); err != nil || cur.GetVersion() != 0 {
		t.Fatalf("after rejected updates: %v, %v", cur, err)
	}

	v1, err := r.UpdateActionTable(ctx, &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Etag: "v0", Rules: []*scoringv1.ActionRule{
		visit, {Action: "mail", Condition: "true", Reason: "Send {{ customer.country }} news"},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if v1.GetVersion() != 1 || v1.GetEtag() != "v1" || len(v1.GetRules()) != 2 || v1.GetUpdateTime() == nil {
		t.Fatalf("saved table %v", v1)
	}
	_, err = r.UpdateActionTable(ctx, &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Etag: "v0", Rules: v1.GetRules()}})
	wantCode(t, err, connect.CodeAborted)

	a, err = r.GetCustomerAssessment(ctx, &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_ExternalId{ExternalId: "ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.GetAction(); got.GetName() != "visit" || got.GetReason() != "Visit Kraków" || got.GetDueWithinDays() != 5 || got.GetTableVersion() != 1 || got.GetRuleIndex() != 0 {
		t.Errorf("ada's action %v", got)
	}
	for _, f := range []struct {
		action string
		want   []string
	}{{"", []string{"ada", "bob"}}, {"visit", []string{"ada"}}, {"mail", []string{"bob"}}, {"call", nil}} {
		top, err := r.ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{OrderBy: scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_PREDICTED_VALUE, Action: f.action})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, row := range top.GetCustomers() {
			got[row.GetExternalId()] = row.GetAction().GetName()
		}
		if len(got) != len(f.want) {
			t.Errorf("ListTopCustomers(action %q) = %v, want %v", f.action, got, f.want)
		}
		for _, ext := range f.want {
			if want := map[string]string{"ada": "visit", "bob": "mail"}[ext]; got[ext] != want {
				t.Errorf("ListTopCustomers(action %q): %s has action %q, want %q", f.action, ext, got[ext], want)
			}
		}
	}
	_, err = r.ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{Action: "Bad Name"})
	wantField(t, err, "action")
}
