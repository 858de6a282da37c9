package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
)

// rulesAPI is the part of ScoringService about scoring rules and grading.
type rulesAPI interface {
	GetGradeDistribution(context.Context, *scoringv1.GetGradeDistributionRequest) (*scoringv1.GradeDistribution, error)
	CreateScoringModel(context.Context, *scoringv1.CreateScoringModelRequest) (*scoringv1.ScoringModel, error)
	GetScoringModel(context.Context, *scoringv1.GetScoringModelRequest) (*scoringv1.ScoringModel, error)
	ListScoringModels(context.Context, *scoringv1.ListScoringModelsRequest) (*scoringv1.ListScoringModelsResponse, error)
	DeleteScoringModel(context.Context, *scoringv1.DeleteScoringModelRequest) (*emptypb.Empty, error)
	CreateScoringRule(context.Context, *scoringv1.CreateScoringRuleRequest) (*scoringv1.ScoringRule, error)
	GetScoringRule(context.Context, *scoringv1.GetScoringRuleRequest) (*scoringv1.ScoringRule, error)
	ListScoringRules(context.Context, *scoringv1.ListScoringRulesRequest) (*scoringv1.ListScoringRulesResponse, error)
	ListScoringRuleVersions(context.Context, *scoringv1.ListScoringRuleVersionsRequest) (*scoringv1.ListScoringRuleVersionsResponse, error)
	UpdateScoringRule(context.Context, *scoringv1.UpdateScoringRuleRequest) (*scoringv1.ScoringRule, error)
	DeleteScoringRule(context.Context, *scoringv1.DeleteScoringRuleRequest) (*emptypb.Empty, error)
	PreviewRuleChange(context.Context, *scoringv1.PreviewRuleChangeRequest) (*scoringv1.GradePreview, error)
	GetScore(context.Context, *scoringv1.GetScoreRequest) (*scoringv1.Score, error)
	ExplainScore(context.Context, *scoringv1.ExplainScoreRequest) (*scoringv1.ExplainScoreResponse, error)
	GetGradingPolicy(context.Context, *scoringv1.GetGradingPolicyRequest) (*scoringv1.GradingPolicy, error)
	UpdateGradingPolicy(context.Context, *scoringv1.UpdateGradingPolicyRequest) (*scoringv1.GradingPolicy, error)
	PreviewPolicyChange(context.Context, *scoringv1.PreviewPolicyChangeRequest) (*scoringv1.GradePreview, error)
	GetCustomerGrade(context.Context, *scoringv1.GetCustomerGradeRequest) (*scoringv1.CustomerGrade, error)
	ListGradeChanges(context.Context, *scoringv1.ListGradeChangesRequest) (*scoringv1.ListGradeChangesResponse, error)
	ListTopCustomers(context.Context, *scoringv1.ListTopCustomersRequest) (*scoringv1.ListTopCustomersResponse, error)
	GetActionTable(context.Context, *scoringv1.GetActionTableRequest) (*scoringv1.ActionTable, error)
	UpdateActionTable(context.Context, *scoringv1.UpdateActionTableRequest) (*scoringv1.ActionTable, error)
	GetCustomerAssessment(context.Context, *scoringv1.GetCustomerAssessmentRequest) (*scoringv1.CustomerAssessment, error)
}

var _ rulesAPI = scoringv1connect.ScoringServiceClient(nil)

// rulesClient returns a client of the scoring rule and grading RPCs over t
// that sends key: grpc-go on the gRPC port, connect-go on the HTTP port.
func (e *env) rulesClient(t transport, key string) rulesAPI {
	opts := []connect.ClientOption{connect.WithInterceptors(sendKey(key))}
	switch t {
	case viaGRPC:
		return rulesGRPC{c: scoringv1.NewScoringServiceClient(e.conn), g: grpcClient{key: key}}
	case viaConnectJSON:
		opts = append(opts, connect.WithProtoJSON())
	case viaConnectGRPC:
		opts = append(opts, connect.WithGRPC())
	case viaGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return scoringv1connect.NewScoringServiceClient(e.h2c, e.httpURL, opts...)
}

// rulesGRPC adapts the grpc-go ScoringService client to rulesAPI.
type rulesGRPC struct {
	c scoringv1.ScoringServiceClient
	g grpcClient
}

func (a rulesGRPC) CreateScoringModel(ctx context.Context, r *scoringv1.CreateScoringModelRequest) (*scoringv1.ScoringModel, error) {
	return call(ctx, a.g, a.c.CreateScoringModel, r)
}
func (a rulesGRPC) GetScoringModel(ctx context.Context, r *scoringv1.GetScoringModelRequest) (*scoringv1.ScoringModel, error) {
	return call(ctx, a.g, a.c.GetScoringModel, r)
}
func (a rulesGRPC) ListScoringModels(ctx context.Context, r *scoringv1.ListScoringModelsRequest) (*scoringv1.ListScoringModelsResponse, error) {
	return call(ctx, a.g, a.c.ListScoringModels, r)
}
func (a rulesGRPC) DeleteScoringModel(ctx context.Context, r *scoringv1.DeleteScoringModelRequest) (*emptypb.Empty, error) {
	return call(ctx, a.g, a.c.DeleteScoringModel, r)
}
func (a rulesGRPC) CreateScoringRule(ctx context.Context, r *scoringv1.CreateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return call(ctx, a.g, a.c.CreateScoringRule, r)
}
func (a rulesGRPC) GetScoringRule(ctx context.Context, r *scoringv1.GetScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return call(ctx, a.g, a.c.GetScoringRule, r)
}
func (a rulesGRPC) ListScoringRules(ctx context.Context, r *scoringv1.ListScoringRulesRequest) (*scoringv1.ListScoringRulesResponse, error) {
	return call(ctx, a.g, a.c.ListScoringRules, r)
}
func (a rulesGRPC) ListScoringRuleVersions(ctx context.Context, r *scoringv1.ListScoringRuleVersionsRequest) (*scoringv1.ListScoringRuleVersionsResponse, error) {
	return call(ctx, a.g, a.c.ListScoringRuleVersions, r)
}
func (a rulesGRPC) UpdateScoringRule(ctx context.Context, r *scoringv1.UpdateScoringRuleRequest) (*scoringv1.ScoringRule, error) {
	return call(ctx, a.g, a.c.UpdateScoringRule, r)
}
func (a rulesGRPC) DeleteScoringRule(ctx context.Context, r *scoringv1.DeleteScoringRuleRequest) (*emptypb.Empty, error) {
	return call(ctx, a.g, a.c.DeleteScoringRule, r)
}
func (a rulesGRPC) PreviewRuleChange(ctx context.Context, r *scoringv1.PreviewRuleChangeRequest) (*scoringv1.GradePreview, error) {
	return call(ctx, a.g, a.c.PreviewRuleChange, r)
}
func (a rulesGRPC) GetScore(ctx context.Context, r *scoringv1.GetScoreRequest) (*scoringv1.Score, error) {
	return call(ctx, a.g, a.c.GetScore, r)
}
func (a rulesGRPC) ExplainScore(ctx context.Context, r *scoringv1.ExplainScoreRequest) (*scoringv1.ExplainScoreResponse, error) {
	return call(ctx, a.g, a.c.ExplainScore, r)
}
func (a rulesGRPC) GetGradeDistribution(ctx context.Context, r *scoringv1.GetGradeDistributionRequest) (*scoringv1.GradeDistribution, error) {
	return call(ctx, a.g, a.c.GetGradeDistribution, r)
}
func (a rulesGRPC) GetGradingPolicy(ctx context.Context, r *scoringv1.GetGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	return call(ctx, a.g, a.c.GetGradingPolicy, r)
}
func (a rulesGRPC) UpdateGradingPolicy(ctx context.Context, r *scoringv1.UpdateGradingPolicyRequest) (*scoringv1.GradingPolicy, error) {
	return call(ctx, a.g, a.c.UpdateGradingPolicy, r)
}
func (a rulesGRPC) PreviewPolicyChange(ctx context.Context, r *scoringv1.PreviewPolicyChangeRequest) (*scoringv1.GradePreview, error) {
	return call(ctx, a.g, a.c.PreviewPolicyChange, r)
}
func (a rulesGRPC) GetCustomerGrade(ctx context.Context, r *scoringv1.GetCustomerGradeRequest) (*scoringv1.CustomerGrade, error) {
	return call(ctx, a.g, a.c.GetCustomerGrade, r)
}
func (a rulesGRPC) ListGradeChanges(ctx context.Context, r *scoringv1.ListGradeChangesRequest) (*scoringv1.ListGradeChangesResponse, error) {
	return call(ctx, a.g, a.c.ListGradeChanges, r)
}
func (a rulesGRPC) ListTopCustomers(ctx context.Context, r *scoringv1.ListTopCustomersRequest) (*scoringv1.ListTopCustomersResponse, error) {
	return call(ctx, a.g, a.c.ListTopCustomers, r)
}
func (a rulesGRPC) GetActionTable(ctx context.Context, r *scoringv1.GetActionTableRequest) (*scoringv1.ActionTable, error) {
	return call(ctx, a.g, a.c.GetActionTable, r)
}
func (a rulesGRPC) UpdateActionTable(ctx context.Context, r *scoringv1.UpdateActionTableRequest) (*scoringv1.ActionTable, error) {
	return call(ctx, a.g, a.c.UpdateActionTable, r)
}
func (a rulesGRPC) GetCustomerAssessment(ctx context.Context, r *scoringv1.GetCustomerAssessmentRequest) (*scoringv1.CustomerAssessment, error) {
	return call(ctx, a.g, a.c.GetCustomerAssessment, r)
}

// wantViolationText fails unless err is InvalidArgument with a BadRequest
// violation of field whose description contains text.
func wantViolationText(t *testing.T, err error, field, text string) {
	t.Helper()
	wantField(t, err, field)
	var ce *connect.Error
	errors.As(err, &ce)
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if br, ok := v.(*errdetails.BadRequest); ok {
				for _, fv := range br.GetFieldViolations() {
					if fv.GetField() == field && strings.Contains(fv.GetDescription(), text) {
						return
					}
				}
			}
		}
	}
	t.Fatalf("no violation of %s mentioning %q: %v", field, text, err)
}

func scoreOf(t *testing.T, r rulesAPI, ext string, asOf time.Time) int64 {
	t.Helper()
	req := &scoringv1.GetScoreRequest{Ref: &scoringv1.GetScoreRequest_ExternalId{ExternalId: ext}}
	if !asOf.IsZero() {
		req.AsOf = timestamppb.New(asOf)
	}
	s, err := r.GetScore(t.Context(), req)
	if err != nil {
		t.Fatalf("GetScore(%s): %v", ext, err)
	}
	return s.GetPoints()
}

// TestScoringRulesThroughTheAPI manages rules and the grading policy and
// reads scores, explanations, grades and ranked lists over every
// transport, on both stores.
func TestScoringRulesThroughTheAPI(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range []transport{viaGRPC, viaConnect, viaConnectJSON, viaGRPCWeb} {
				t.Run(string(tr), func(t *testing.T) {
					t.Parallel()
					e := start(t, st.open(t))
					testScoringRules(t, e.client(tr, adminKey), e.rulesClient(tr, adminKey))
				})
			}
		})
	}
}

func testScoringRules(t *testing.T, c customerv1connect.CustomerServiceClient, r rulesAPI) {
	ctx := t.Context()
	for _, cu := range []*customerv1.Customer{{ExternalId: "ada", GivenName: "Ada", Country: "PL"}, {ExternalId: "bob", GivenName: "Bob", Country: "DE"}} {
		if _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: cu}); err != nil {
			t.Fatal(err)
		}
	}
	orderTime := time.Now().Add(-10 * 24 * time.Hour).UTC().Truncate(time.Second)
	at := orderTime.Format(time.RFC3339)
	if _, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
		txn("o1", "ada", "1500", at), txn("o2", "bob", "1500", at),
	}}); err != nil {
		t.Fatal(err)
	}

	m, err := r.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "sales"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "sales"}})
	wantCode(t, err, connect.CodeAlreadyExists)
	orders, err := r.CreateScoringRule(ctx, &scoringv1.CreateScoringRuleRequest{Rule: &scoringv1.ScoringRule{
		ModelId: m.GetId(), DisplayName: "Orders", EventKind: "order", Points: 50, Validity: durationpb.New(180 * 24 * time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if orders.GetVersion() != 1 || orders.GetEtag() != "v1" || orders.GetValidity().AsDuration() != 180*24*time.Hour {
		t.Fatalf("created rule = %v", orders)
	}
	big, err := r.CreateScoringRule(ctx, &scoringv1.CreateScoringRuleRequest{Rule: &scoringv1.ScoringRule{
		ModelId: m.GetId(), DisplayName: "Big orders in Poland", EventKind: "order", Points: 100,
		Condition: `event.amount > 1000.0 && customer.country == "PL"`,
	}})
	if err != nil {
		t.Fatal(err)
	}

	// Invalid rules: InvalidArgument naming the field, nothing saved.
	for _, bad := range []struct {
		rule        *scoringv1.ScoringRule
		field, text string
	}{
		{&scoringv1.ScoringRule{Condition: "event.amount >\n  \"1000\""}, "rule.condition", "line 1, column 14"},
		{&scoringv1.ScoringRule{Condition: "event.amount > 1.0 && customer.contry == \"PL\""}, "rule.condition", "line 1, column 31"},
		{&scoringv1.ScoringRule{EventKind: "purchase"}, "rule.event_kind", "unknown event kind"},
		{&scoringv1.ScoringRule{Validity: durationpb.New(0)}, "rule.validity", "zero-width"},
	} {
		bad.rule.ModelId, bad.rule.DisplayName, bad.rule.Points = m.GetId(), "Bad", 10
		if bad.rule.EventKind == "" {
			bad.rule.EventKind = "order"
		}
		_, err := r.CreateScoringRule(ctx, &scoringv1.CreateScoringRuleRequest{Rule: bad.rule})
		wantViolationText(t, err, bad.field, bad.text)
		_, err = r.UpdateScoringRule(ctx, &scoringv1.UpdateScoringRuleRequest{Rule: func() *scoringv1.ScoringRule {
			u := proto.CloneOf(bad.rule)
			u.Id = orders.GetId()
			return u
		}(), UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"event_kind", "condition", "validity"}}})
		wantViolationText(t, err, bad.field, bad.text)
	}
	rules, err := r.ListScoringRules(ctx, &scoringv1.ListScoringRulesRequest{ModelId: m.GetId()})
	if err != nil || len(rules.GetRules()) != 2 || rules.GetRules()[0].GetVersion() != 1 || rules.GetRules()[0].GetPoints() != 50 {
		t.Fatalf("rules after rejected changes = %v, %v", rules, err)
	}

	// +50 valid 180 days, +100 for Ada's big Polish order: the order's
	// points count on day 179 and are gone on day 181.
	for _, s := range []struct {
		ext  string
		day  int
		want int64
	}{{"ada", 0, 150}, {"ada", 179, 150}, {"ada", 181, 100}, {"bob", 179, 50}, {"bob", 181, 0}} {
		if got := scoreOf(t, r, s.ext, orderTime.Add(time.Duration(s.day)*24*time.Hour)); got != s.want {
			t.Errorf("%s's score on day %d = %d, want %d", s.ext, s.day, got, s.want)
		}
	}
	ex, err := r.ExplainScore(ctx, &scoringv1.ExplainScoreRequest{Ref: &scoringv1.ExplainScoreRequest_ExternalId{ExternalId: "ada"}, ModelId: m.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	es := ex.GetEntries()
	if ex.GetScore().GetPoints() != 150 || len(es) != 2 || es[0].GetRuleDisplayName() != "Big orders in Poland" || es[0].GetPoints() != 100 ||
		es[0].GetExpireTime() != nil || es[1].GetRuleDisplayName() != "Orders" || !es[1].GetExpireTime().AsTime().Equal(orderTime.Add(180*24*time.Hour)) ||
		es[1].GetEventExternalId() != "o1" || es[1].GetEventKind() != "order" || !es[1].GetAwardTime().AsTime().Equal(orderTime) {
		t.Fatalf("explanation = %v", ex)
	}

	// Updates are versioned and conditional.
	upd, err := r.UpdateScoringRule(ctx, &scoringv1.UpdateScoringRuleRequest{
		Rule: &scoringv1.ScoringRule{Id: orders.GetId(), Etag: "v1", Points: 60}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"points"}},
	})
	if err != nil || upd.GetVersion() != 2 || upd.GetPoints() != 60 || upd.GetDisplayName() != "Orders" {
		t.Fatalf("update = %v, %v", upd, err)
	}
	_, err = r.UpdateScoringRule(ctx, &scoringv1.UpdateScoringRuleRequest{
		Rule: &scoringv1.ScoringRule{Id: orders.GetId(), Etag: "v1", Points: 70}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"points"}},
	})
	wantCode(t, err, connect.CodeAborted)
	_, err = r.UpdateScoringRule(ctx, &scoringv1.UpdateScoringRuleRequest{
		Rule: &scoringv1.ScoringRule{Id: orders.GetId(), ModelId: m.GetId()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"model_id"}},
	})
	wantField(t, err, "update_mask")
	if got := scoreOf(t, r, "ada", time.Time{}); got != 160 {
		t.Fatalf("ada's score after the update = %d, want 160", got)
	}
	vs, err := r.ListScoringRuleVersions(ctx, &scoringv1.ListScoringRuleVersionsRequest{Id: orders.GetId()})
	if err != nil || len(vs.GetVersions()) != 2 || vs.GetVersions()[0].GetPoints() != 50 || vs.GetVersions()[1].GetPoints() != 60 {
		t.Fatalf("versions = %v, %v", vs, err)
	}
	model, err := r.GetScoringModel(ctx, &scoringv1.GetScoringModelRequest{Id: m.GetId()})
	if err != nil || model.GetRevision() != 3 || model.GetScoredRevision() != 3 {
		t.Fatalf("model = %v, %v", model, err)
	}

	// A rule change previewed: what it would do to scores.
	preview, err := r.PreviewRuleChange(ctx, &scoringv1.PreviewRuleChangeRequest{Change: &scoringv1.PreviewRuleChangeRequest_Update{
		Update: &scoringv1.UpdateScoringRuleRequest{Rule: &scoringv1.ScoringRule{Id: big.GetId(), Points: 10}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"points"}}},
	}})
	if err != nil || preview.GetScoreChanges() != 1 || len(preview.GetSamples()) != 1 || preview.GetSamples()[0].GetFromScore() != 160 || preview.GetSamples()[0].GetToScore() != 70 {
		t.Fatalf("rule preview = %v, %v", preview, err)
	}

	// Grading: the default policy, a rejected one, a previewed and applied one.
	def, err := r.GetGradingPolicy(ctx, &scoringv1.GetGradingPolicyRequest{})
	if err != nil || def.GetVersion() != 0 || strings.Join(def.GetGrades(), "") != "ABCDEF" {
		t.Fatalf("default policy = %v, %v", def, err)
	}
	pol := &scoringv1.GradingPolicy{
		Grades: []string{"A", "B", "C"}, EngagementWeight: 100, EngagementModelId: m.GetId(), EngagementTarget: 200,
		Thresholds: scoringv1.ThresholdMode_THRESHOLD_MODE_ABSOLUTE, Cutoffs: []float64{75, 75},
	}
	_, err = r.PreviewPolicyChange(ctx, &scoringv1.PreviewPolicyChangeRequest{Policy: pol})
	wantViolationText(t, err, "policy.cutoffs[1]", "conflicts with cutoffs[0]")
	_, err = r.UpdateGradingPolicy(ctx, &scoringv1.UpdateGradingPolicyRequest{Policy: pol})
	wantField(t, err, "policy.cutoffs[1]")
	pol.Cutoffs = []float64{75, 40}
	pp, err := r.PreviewPolicyChange(ctx, &scoringv1.PreviewPolicyChangeRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	// Ada 160/200 → 80 → A; Bob 60/200 → 30 → C. Under the default policy
	// both were A (historical value 1,500 and a customer's full fit).
	matrix := map[string]int64{}
	for _, tr := range pp.GetTransitions() {
		matrix[tr.GetFromGrade()+"→"+tr.GetToGrade()] = tr.GetCount()
	}
	if len(matrix) != 2 || matrix["A→A"] != 1 || matrix["A→C"] != 1 || pp.GetGradeChanges() != 1 || pp.GetCustomers() != 2 {
		t.Fatalf("policy preview = %v", pp)
	}
	saved, err := r.UpdateGradingPolicy(ctx, &scoringv1.UpdateGradingPolicyRequest{Policy: pol})
	if err != nil || saved.GetVersion() != 1 || saved.GetEtag() != "v1" {
		t.Fatalf("UpdateGradingPolicy = %v, %v", saved, err)
	}
	for ext, want := range map[string]string{"ada": "A", "bob": "C"} {
		g, err := r.GetCustomerGrade(ctx, &scoringv1.GetCustomerGradeRequest{Ref: &scoringv1.GetCustomerGradeRequest_ExternalId{ExternalId: ext}})
		if err != nil || g.GetGrade() != want || g.GetPolicyVersion() != 1 || !strings.Contains(g.GetExplanation(), "Grade "+want+" under policy v1") {
			t.Fatalf("%s's grade = %v, %v; want %s", ext, g, err, want)
		}
	}
	// The histogram: A 1 (Ada), B 0, C 1 (Bob), in the policy's order.
	dist, err := r.GetGradeDistribution(ctx, &scoringv1.GetGradeDistributionRequest{})
	var bars []string
	for _, g := range dist.GetGrades() {
		bars = append(bars, fmt.Sprintf("%s:%d", g.GetGrade(), g.GetCustomers()))
	}
	if err != nil || strings.Join(bars, " ") != "A:1 B:0 C:1" || dist.GetCustomers() != 2 || dist.GetPolicyVersion() != 1 {
		t.Fatalf("GetGradeDistribution = %v (%v), %v", bars, dist, err)
	}
	changes, err := r.ListGradeChanges(ctx, &scoringv1.ListGradeChangesRequest{Ref: &scoringv1.ListGradeChangesRequest_ExternalId{ExternalId: "bob"}})
	if err != nil || len(changes.GetChanges()) < 2 {
		t.Fatalf("bob's grade changes = %v, %v", changes, err)
	}
	cs := changes.GetChanges()
	if last := cs[0]; last.GetFromGrade() != "A" || last.GetToGrade() != "C" || last.GetCause() != scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_POLICY_CHANGED || last.GetPolicyVersion() != 1 {
		t.Fatalf("bob's last change = %v", last)
	}
	if first := cs[len(cs)-1]; first.GetFromGrade() != "" || first.GetCause() != scoringv1.GradeChangeCause_GRADE_CHANGE_CAUSE_CUSTOMER_CREATED {
		t.Fatalf("bob's first change = %v", first)
	}
	page1, err := r.ListGradeChanges(ctx, &scoringv1.ListGradeChangesRequest{PageSize: 1})
	if err != nil || len(page1.GetChanges()) != 1 || page1.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v", page1, err)
	}
	page2, err := r.ListGradeChanges(ctx, &scoringv1.ListGradeChangesRequest{PageSize: 1, PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetChanges()) != 1 || page2.GetChanges()[0].GetId() == page1.GetChanges()[0].GetId() {
		t.Fatalf("second page = %v, %v", page2, err)
	}

	top, err := r.ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{OrderBy: scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_SCORE})
	if err != nil || top.GetModelId() != m.GetId() || len(top.GetCustomers()) != 2 || top.GetCustomers()[0].GetExternalId() != "ada" ||
		top.GetCustomers()[0].GetScore() != 160 || top.GetCustomers()[1].GetGrade() != "C" {
		t.Fatalf("top by score = %v, %v", top, err)
	}
	byGrade, err := r.ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{OrderBy: scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_GRADE, PageSize: 1})
	if err != nil || len(byGrade.GetCustomers()) != 1 || byGrade.GetCustomers()[0].GetGrade() != "A" || byGrade.GetNextPageToken() == "" {
		t.Fatalf("top by grade = %v, %v", byGrade, err)
	}

	// The engagement model cannot go; deleting a rule takes its points out.
	_, err = r.DeleteScoringModel(ctx, &scoringv1.DeleteScoringModelRequest{Id: m.GetId()})
	wantCode(t, err, connect.CodeFailedPrecondition)
	_, err = r.DeleteScoringRule(ctx, &scoringv1.DeleteScoringRuleRequest{Id: big.GetId(), Etag: "v2"})
	wantCode(t, err, connect.CodeAborted)
	if _, err := r.DeleteScoringRule(ctx, &scoringv1.DeleteScoringRuleRequest{Id: big.GetId(), Etag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if got := scoreOf(t, r, "ada", time.Time{}); got != 60 {
		t.Fatalf("ada's score after deleting a rule = %d, want 60", got)
	}
	_, err = r.GetScoringRule(ctx, &scoringv1.GetScoringRuleRequest{Id: big.GetId()})
	wantCode(t, err, connect.CodeNotFound)
	models, err := r.ListScoringModels(ctx, &scoringv1.ListScoringModelsRequest{})
	if err != nil || len(models.GetModels()) != 1 {
		t.Fatalf("models = %v, %v", models, err)
	}
}

// scoringFixture is the scoring data of a security fixture: a model, a
// rule of it, and page tokens of the tenant's grade changes and ranking.
type scoringFixture struct {
	modelID, ruleID             string
	gradeChangesToken, topToken string
}

// scoringFixtures holds the scoring data of every fixture, by tenant id.
var scoringFixtures sync.Map

func scoringOf(f *fixture) *scoringFixture {
	if sf, ok := scoringFixtures.Load(f.tenant.ID); ok {
		return sf.(*scoringFixture)
	}
	return &scoringFixture{}
}

// addScoringFixture gives f, through the API, a scoring model with a rule
// (which scores and grades its customers) and a grading policy taking
// engagement from it; newFixture calls it.
func addScoringFixture(t *testing.T, e *env, f *fixture) {
	t.Helper()
	ctx := t.Context()
	r := e.rulesClient(viaConnect, f.admin)
	m, err := r.CreateScoringModel(ctx, &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: f.tenant.Name + " engagement"}})
	if err != nil {
		t.Fatal(err)
	}
	rule, err := r.CreateScoringRule(ctx, &scoringv1.CreateScoringRuleRequest{Rule: &scoringv1.ScoringRule{ModelId: m.GetId(), DisplayName: "Orders", EventKind: "order", Points: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateGradingPolicy(ctx, &scoringv1.UpdateGradingPolicyRequest{Policy: &scoringv1.GradingPolicy{
		Grades: []string{"A", "B", "C"}, ValueWeight: 50, ValueTarget: "200", EngagementWeight: 50, EngagementModelId: m.GetId(), EngagementTarget: 20,
		Cutoffs: []float64{60, 30},
	}}); err != nil {
		t.Fatal(err)
	}
	sf := &scoringFixture{modelID: m.GetId(), ruleID: rule.GetId()}
	changes, err := r.ListGradeChanges(ctx, &scoringv1.ListGradeChangesRequest{PageSize: 1})
	if err != nil || changes.GetNextPageToken() == "" {
		t.Fatalf("ListGradeChanges: %v, %v", changes, err)
	}
	sf.gradeChangesToken = changes.GetNextPageToken()
	top, err := r.ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{PageSize: 1})
	if err != nil || top.GetNextPageToken() == "" {
		t.Fatalf("ListTopCustomers: %v, %v", top, err)
	}
	sf.topToken = top.GetNextPageToken()
	scoringFixtures.Store(f.tenant.ID, sf)
	f.markers = append(f.markers, sf.modelID, sf.ruleID)
}

// scoringSnapshot is f's scoring data, to compare before and after.
func scoringSnapshot(t *testing.T, e *env, f *fixture) []proto.Message {
	t.Helper()
	ctx := t.Context()
	r := e.rulesClient(viaConnect, f.admin)
	models, err := r.ListScoringModels(ctx, &scoringv1.ListScoringModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := r.ListScoringRules(ctx, &scoringv1.ListScoringRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := r.GetGradingPolicy(ctx, &scoringv1.GetGradingPolicyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return []proto.Message{models, rules, policy}
}

// The requests of the scoring rule and grading RPCs for the security
// tests (rpcRequests): another tenant's models, rules, customers and page
// tokens are NotFound or InvalidArgument, never theirs.
func init() {
	cust := func(f *fixture, i int) (string, string) { return f.customerIDs[i], f.externalIDs[i] }
	for proc, build := range map[string]func(f *fixture) []request{
		scoringv1connect.ScoringServiceCreateScoringModelProcedure: func(f *fixture) []request {
			return []request{{"a model", &scoringv1.CreateScoringModelRequest{Model: &scoringv1.ScoringModel{DisplayName: "mine " + domain.NewID()}}, 0}}
		},
		scoringv1connect.ScoringServiceGetScoringModelProcedure: func(f *fixture) []request {
			return []request{{"their model", &scoringv1.GetScoringModelRequest{Id: scoringOf(f).modelID}, 0}}
		},
		scoringv1connect.ScoringServiceListScoringModelsProcedure: func(*fixture) []request {
			return []request{{"all", &scoringv1.ListScoringModelsRequest{}, 0}}
		},
		scoringv1connect.ScoringServiceDeleteScoringModelProcedure: func(f *fixture) []request {
			return []request{{"their model", &scoringv1.DeleteScoringModelRequest{Id: scoringOf(f).modelID}, connect.CodeFailedPrecondition}}
		},
		scoringv1connect.ScoringServiceCreateScoringRuleProcedure: func(f *fixture) []request {
			return []request{{"in their model", &scoringv1.CreateScoringRuleRequest{Rule: &scoringv1.ScoringRule{ModelId: scoringOf(f).modelID, DisplayName: "x", EventKind: "order", Points: 1}}, 0}}
		},
		scoringv1connect.ScoringServiceGetScoringRuleProcedure: func(f *fixture) []request {
			return []request{{"their rule", &scoringv1.GetScoringRuleRequest{Id: scoringOf(f).ruleID}, 0}}
		},
		scoringv1connect.ScoringServiceListScoringRulesProcedure: func(f *fixture) []request {
			return []request{{"all", &scoringv1.ListScoringRulesRequest{}, 0}, {"their model's", &scoringv1.ListScoringRulesRequest{ModelId: scoringOf(f).modelID}, 0}}
		},
		scoringv1connect.ScoringServiceListScoringRuleVersionsProcedure: func(f *fixture) []request {
			return []request{{"their rule", &scoringv1.ListScoringRuleVersionsRequest{Id: scoringOf(f).ruleID}, 0}}
		},
		scoringv1connect.ScoringServiceUpdateScoringRuleProcedure: func(f *fixture) []request {
			return []request{{"their rule", &scoringv1.UpdateScoringRuleRequest{Rule: &scoringv1.ScoringRule{Id: scoringOf(f).ruleID, Points: 1000}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"points"}}}, 0}}
		},
		scoringv1connect.ScoringServiceDeleteScoringRuleProcedure: func(f *fixture) []request {
			return []request{{"their rule", &scoringv1.DeleteScoringRuleRequest{Id: scoringOf(f).ruleID}, 0}}
		},
		scoringv1connect.ScoringServicePreviewRuleChangeProcedure: func(f *fixture) []request {
			sf := scoringOf(f)
			return []request{
				{"deleting their rule", &scoringv1.PreviewRuleChangeRequest{Change: &scoringv1.PreviewRuleChangeRequest_DeleteRuleId{DeleteRuleId: sf.ruleID}}, 0},
				{"a rule in their model", &scoringv1.PreviewRuleChangeRequest{Change: &scoringv1.PreviewRuleChangeRequest_Create{Create: &scoringv1.ScoringRule{ModelId: sf.modelID, DisplayName: "x", EventKind: "order", Points: 1}}}, 0},
				{"changing their rule", &scoringv1.PreviewRuleChangeRequest{Change: &scoringv1.PreviewRuleChangeRequest_Update{Update: &scoringv1.UpdateScoringRuleRequest{Rule: &scoringv1.ScoringRule{Id: sf.ruleID, Points: 5}}}}, 0},
			}
		},
		scoringv1connect.ScoringServiceGetScoreProcedure: func(f *fixture) []request {
			id, ext := cust(f, 0)
			return []request{
				{"their customer", &scoringv1.GetScoreRequest{Ref: &scoringv1.GetScoreRequest_CustomerId{CustomerId: id}}, 0},
				{"their external id in their model", &scoringv1.GetScoreRequest{Ref: &scoringv1.GetScoreRequest_ExternalId{ExternalId: ext}, ModelId: scoringOf(f).modelID}, 0},
			}
		},
		scoringv1connect.ScoringServiceExplainScoreProcedure: func(f *fixture) []request {
			id, ext := cust(f, 1)
			return []request{
				{"their customer", &scoringv1.ExplainScoreRequest{Ref: &scoringv1.ExplainScoreRequest_CustomerId{CustomerId: id}}, 0},
				{"their external id", &scoringv1.ExplainScoreRequest{Ref: &scoringv1.ExplainScoreRequest_ExternalId{ExternalId: ext}}, 0},
			}
		},
		scoringv1connect.ScoringServiceGetGradingPolicyProcedure: func(*fixture) []request {
			return []request{{"the tenant's", &scoringv1.GetGradingPolicyRequest{}, 0}}
		},
		scoringv1connect.ScoringServiceGetGradeDistributionProcedure: func(*fixture) []request {
			return []request{{"the tenant's", &scoringv1.GetGradeDistributionRequest{}, 0}}
		},
		scoringv1connect.ScoringServiceUpdateGradingPolicyProcedure: func(f *fixture) []request {
			return []request{{"engagement from their model", &scoringv1.UpdateGradingPolicyRequest{Policy: &scoringv1.GradingPolicy{
				Grades: []string{"A", "B"}, EngagementWeight: 1, EngagementModelId: scoringOf(f).modelID, EngagementTarget: 10, Cutoffs: []float64{50},
			}}, connect.CodeInvalidArgument}}
		},
		scoringv1connect.ScoringServicePreviewPolicyChangeProcedure: func(f *fixture) []request {
			return []request{{"engagement from their model", &scoringv1.PreviewPolicyChangeRequest{Policy: &scoringv1.GradingPolicy{
				Grades: []string{"A", "B"}, EngagementWeight: 1, EngagementModelId: scoringOf(f).modelID, EngagementTarget: 10, Cutoffs: []float64{50},
			}}, connect.CodeInvalidArgument}}
		},
		scoringv1connect.ScoringServiceGetCustomerGradeProcedure: func(f *fixture) []request {
			id, ext := cust(f, 0)
			return []request{
				{"their customer", &scoringv1.GetCustomerGradeRequest{Ref: &scoringv1.GetCustomerGradeRequest_CustomerId{CustomerId: id}}, 0},
				{"their external id", &scoringv1.GetCustomerGradeRequest{Ref: &scoringv1.GetCustomerGradeRequest_ExternalId{ExternalId: ext}}, 0},
			}
		},
		scoringv1connect.ScoringServiceListGradeChangesProcedure: func(f *fixture) []request {
			id, ext := cust(f, 1)
			return []request{
				{"all", &scoringv1.ListGradeChangesRequest{PageSize: 1000}, 0},
				{"their customer", &scoringv1.ListGradeChangesRequest{Ref: &scoringv1.ListGradeChangesRequest_CustomerId{CustomerId: id}}, 0},
				{"their external id", &scoringv1.ListGradeChangesRequest{Ref: &scoringv1.ListGradeChangesRequest_ExternalId{ExternalId: ext}}, 0},
				{"their page token", &scoringv1.ListGradeChangesRequest{PageSize: 1, PageToken: scoringOf(f).gradeChangesToken}, connect.CodeInvalidArgument},
			}
		},
		scoringv1connect.ScoringServiceGetActionTableProcedure: func(*fixture) []request {
			return []request{{"the tenant's", &scoringv1.GetActionTableRequest{}, 0}}
		},
		scoringv1connect.ScoringServiceUpdateActionTableProcedure: func(*fixture) []request {
			return []request{{"the tenant's", &scoringv1.UpdateActionTableRequest{ActionTable: &scoringv1.ActionTable{Rules: []*scoringv1.ActionRule{
				{Action: "call", Condition: `churn.level == "high"`, Reason: "Call {{ customer.city }}"},
			}}}, 0}}
		},
		scoringv1connect.ScoringServiceListTopCustomersProcedure: func(f *fixture) []request {
			return []request{
				{"all", &scoringv1.ListTopCustomersRequest{PageSize: 1000}, 0},
				{"by action", &scoringv1.ListTopCustomersRequest{PageSize: 1000, Action: "none"}, 0},
				{"their model", &scoringv1.ListTopCustomersRequest{ModelId: scoringOf(f).modelID}, 0},
				{"their page token", &scoringv1.ListTopCustomersRequest{PageSize: 1, PageToken: scoringOf(f).topToken}, connect.CodeInvalidArgument},
			}
		},
	} {
		rpcRequests[proc] = build
	}
}
