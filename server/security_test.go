package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	adminv1 "github.com/potentialhq/potential/gen/go/potential/admin/v1"
	"github.com/potentialhq/potential/gen/go/potential/admin/v1/adminv1connect"
	conversionv1 "github.com/potentialhq/potential/gen/go/potential/conversion/v1"
	"github.com/potentialhq/potential/gen/go/potential/conversion/v1/conversionv1connect"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
	webhookv1 "github.com/potentialhq/potential/gen/go/potential/webhook/v1"
	"github.com/potentialhq/potential/gen/go/potential/webhook/v1/webhookv1connect"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

// fixture is a tenant with data in it, made through the API: customers
// with personal data and events, keys, audit records, and the ids, page
// tokens and filters that address them.
type fixture struct {
	tenant      domain.Tenant
	admin       string // an admin key's text
	customerIDs []string
	externalIDs []string
	emails      []string
	spareKeyID  string // a key nobody uses: requests may revoke it
	keyIDs      []string
	auditIDs    []string
	// Page tokens of the tenant's listings (page size 1, so there is a next page).
	customersToken, keysToken, auditToken string
	// Feedback of the two customers left (a complaint and an NPS answer),
	// a page token of the feedback listing, and a topic rule's topic.
	feedbackIDs   []string
	feedbackToken string
	topic         string
	// A static segment with the first customer, and a page token of its
	// members.
	segmentID, membersToken string
	// A webhook destination and a subscription to it.
	webhookURL, destinationID, subscriptionID string
	// pii and markers are strings of the tenant's data that no other
	// tenant may ever read: its personal data, and that and its ids.
	pii, markers []string
}

// newFixture creates tenant name on e's store and fills it through the API.
func newFixture(t *testing.T, e *env, name string) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{tenant: domain.Tenant{ID: domain.NewID(), Name: name, CreateTime: time.Now()}}
	if err := e.svc.Store().CreateTenant(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	k, text, err := e.svc.CreateKey(domain.WithPrincipal(ctx, domain.CommandLine(f.tenant.ID)), "fixture admin", domain.RoleAdmin, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = text
	f.keyIDs = append(f.keyIDs, k.ID)
	customers := e.client(viaConnect, f.admin)
	admin := e.adminClient(viaConnect, f.admin)
	for i, given := range []string{"Beatrix", "Bartholomew", "Bernadette"} {
		ext := fmt.Sprintf("%s-crm-%d", name, i)
		email := strings.ToLower(given) + "." + name + "@example.com"
		c, err := customers.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{
			ExternalId: ext, GivenName: given, FamilyName: "Secretsson-" + name, Email: email, Phone: "+48 600 100 20" + fmt.Sprint(i), Country: "PL",
		}})
		if err != nil {
			t.Fatal(err)
		}
		f.customerIDs, f.externalIDs, f.emails = append(f.customerIDs, c.GetId()), append(f.externalIDs, ext), append(f.emails, email)
		f.pii = append(f.pii, given, email, "Secretsson-"+name)
		f.markers = append(f.markers, c.GetId())
	}
	ref := func(i int) *customerv1.CustomerRef {
		return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: f.externalIDs[i]}}
	}
	at := timestamppb.New(time.Now().Add(-90 * 24 * time.Hour))
	if _, err := customers.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
		{ExternalId: name + "-order-1", Customer: ref(0), Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "120.50", OccurredAt: at},
		{ExternalId: name + "-order-2", Customer: ref(1), Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "80", OccurredAt: at},
		{ExternalId: name + "-order-3", Customer: ref(0), Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "99", OccurredAt: timestamppb.New(time.Now().Add(-30 * 24 * time.Hour))},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := customers.RecordInteractions(ctx, &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{
		{ExternalId: name + "-call-1", Customer: ref(0), Type: customerv1.InteractionType_INTERACTION_TYPE_CALL, OccurredAt: at},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := customers.RecordReferrals(ctx, &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{
		{ExternalId: name + "-ref-1", Referrer: ref(0), Referred: ref(1), OccurredAt: at},
	}}); err != nil {
		t.Fatal(err)
	}
	feedback := e.feedbackClient(viaConnect, f.admin)
	f.topic = name + "-delivery"
	if _, err := feedback.CreateTopicRule(ctx, &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: f.topic, Keywords: []string{"dostaw"}}}); err != nil {
		t.Fatal(err)
	}
	for i, kind := range []feedbackv1.FeedbackKind{feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT, feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS, feedbackv1.FeedbackKind_FEEDBACK_KIND_COMPLAINT} {
		fb := &feedbackv1.Feedback{ExternalId: fmt.Sprintf("%s-feedback-%d", name, i), Customer: ref(i), Kind: kind, Text: "Reklamacja dostawy, Secretsson-" + name, OccurredAt: at}
		if kind == feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS {
			fb.Score = proto.Int32(2)
		}
		resp, err := feedback.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: fb})
		if err != nil {
			t.Fatal(err)
		}
		f.feedbackIDs = append(f.feedbackIDs, resp.GetFeedback().GetId())
	}
	if _, err := customers.DeleteCustomer(ctx, &customerv1.DeleteCustomerRequest{Id: f.customerIDs[2]}); err != nil {
		t.Fatal(err)
	}
	f.customerIDs, f.externalIDs, f.emails = f.customerIDs[:2], f.externalIDs[:2], f.emails[:2]
	f.feedbackIDs = f.feedbackIDs[:2] // the erased customer's went with it
	f.markers = append(f.markers, f.feedbackIDs...)
	for _, role := range []adminv1.Role{adminv1.Role_ROLE_INGEST, adminv1.Role_ROLE_SALES} {
		k, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: name + " spare", Role: role}})
		if err != nil {
			t.Fatal(err)
		}
		f.keyIDs = append(f.keyIDs, k.GetApiKey().GetId())
		f.spareKeyID = k.GetApiKey().GetId()
	}
	if _, err := admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: f.keyIDs[1]}); err != nil {
		t.Fatal(err)
	}
	f.pii = append(f.pii, f.tenant.ID)
	f.markers = append(f.markers, f.pii...)
	f.markers = append(f.markers, f.keyIDs...)

	list, err := customers.ListCustomers(ctx, &customerv1.ListCustomersRequest{PageSize: 1})
	if err != nil || list.GetNextPageToken() == "" {
		t.Fatalf("ListCustomers: %v, %v", list, err)
	}
	f.customersToken = list.GetNextPageToken()
	keys, err := admin.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{PageSize: 1})
	if err != nil || keys.GetNextPageToken() == "" {
		t.Fatalf("ListApiKeys: %v, %v", keys, err)
	}
	f.keysToken = keys.GetNextPageToken()
	audit, err := admin.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: 1000})
	if err != nil || len(audit.GetAuditEvents()) < 4 {
		t.Fatalf("ListAuditEvents: %v, %v", audit, err)
	}
	for _, ev := range audit.GetAuditEvents() {
		f.auditIDs = append(f.auditIDs, ev.GetId())
	}
	f.markers = append(f.markers, f.auditIDs...)
	audit, err = admin.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: 1})
	if err != nil || audit.GetNextPageToken() == "" {
		t.Fatalf("ListAuditEvents: %v, %v", audit, err)
	}
	f.auditToken = audit.GetNextPageToken()
	fbList, err := feedback.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{PageSize: 1})
	if err != nil || fbList.GetNextPageToken() == "" {
		t.Fatalf("ListFeedback: %v, %v", fbList, err)
	}
	f.feedbackToken = fbList.GetNextPageToken()
	addScoringFixture(t, e, f)
	addSegmentFixture(t, e, f)
	addWebhookFixture(t, e, f)
	return f
}

// request is one realistic request of an RPC, addressing f's data.
// mayReject is a code that, besides NotFound, is a correct answer when
// the caller is of another tenant (e.g. InvalidArgument for a page token
// bound to f's tenant); 0 when only NotFound or an answer will do.
type request struct {
	name      string
	msg       proto.Message
	mayReject connect.Code
}

// rpcRequests builds, for every RPC, requests that use the ids, external
// ids, page tokens and filters of a fixture. TestCrossTenantMatrix sends
// them as another tenant; TestEveryRPCEveryRole sends the first of each as
// the fixture's own tenant. Both fail for an RPC that has no entry here:
// add one with every way the RPC can address a tenant's data.
var rpcRequests = map[string]func(f *fixture) []request{
	customerv1connect.CustomerServiceCreateCustomerProcedure: func(f *fixture) []request {
		return []request{{"their external id", &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: f.externalIDs[0], GivenName: "Mallory"}}, connect.CodeAlreadyExists}}
	},
	customerv1connect.CustomerServiceGetCustomerProcedure: func(f *fixture) []request {
		return []request{
			{"by id", &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: f.customerIDs[0]}}, 0},
			{"by external id", &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: f.externalIDs[1]}}, 0},
		}
	},
	customerv1connect.CustomerServiceUpdateCustomerProcedure: func(f *fixture) []request {
		return []request{
			{"masked", &customerv1.UpdateCustomerRequest{Customer: &customerv1.Customer{Id: f.customerIDs[0], City: "Nowhere"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}}}, 0},
			{"with etag", &customerv1.UpdateCustomerRequest{Customer: &customerv1.Customer{Id: f.customerIDs[1], Etag: "v1", Email: "mallory@example.com"}}, 0},
		}
	},
	customerv1connect.CustomerServiceDeleteCustomerProcedure: func(f *fixture) []request {
		return []request{
			{"with etag", &customerv1.DeleteCustomerRequest{Id: f.customerIDs[1], Etag: "v1"}, 0},
			{"by id", &customerv1.DeleteCustomerRequest{Id: f.customerIDs[0]}, 0},
		}
	},
	customerv1connect.CustomerServiceListCustomersProcedure: func(f *fixture) []request {
		return []request{
			{"filter by their external id", &customerv1.ListCustomersRequest{Filter: fmt.Sprintf("external_id = %q", f.externalIDs[0])}, 0},
			{"filter by their email", &customerv1.ListCustomersRequest{Filter: fmt.Sprintf("email = %q", f.emails[1])}, 0},
			{"filter by spend", &customerv1.ListCustomersRequest{Filter: "total_spend > 1", OrderBy: "total_spend desc", PageSize: 1000}, 0},
			{"their page token", &customerv1.ListCustomersRequest{PageSize: 1, PageToken: f.customersToken}, connect.CodeInvalidArgument},
		}
	},
	customerv1connect.CustomerServiceBatchUpsertCustomersProcedure: func(f *fixture) []request {
		return []request{{"their external ids", &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{
			{ExternalId: f.externalIDs[0], Email: "mallory@example.com"}, {ExternalId: f.externalIDs[1]},
		}}, 0}}
	},
	customerv1connect.CustomerServiceRecordTransactionsProcedure: func(f *fixture) []request {
		tx := func(id string, ref *customerv1.CustomerRef) *customerv1.Transaction {
			return &customerv1.Transaction{ExternalId: id, Customer: ref, Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "1", OccurredAt: timestamppb.New(time.Now().Add(-time.Hour))}
		}
		return []request{
			{"their customer id", &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{tx("m-1", byID(f.customerIDs[0]))}, CreateMissingCustomers: true}, connect.CodeInvalidArgument},
			{"their external id", &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{tx("m-2", byExt(f.externalIDs[0]))}}, connect.CodeInvalidArgument},
			{"their order id, missing customers created", &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{tx(f.tenant.Name+"-order-1", byExt(f.externalIDs[0]))}, CreateMissingCustomers: true}, 0},
		}
	},
	customerv1connect.CustomerServiceRecordInteractionsProcedure: func(f *fixture) []request {
		it := func(id string, ref *customerv1.CustomerRef) *customerv1.Interaction {
			return &customerv1.Interaction{ExternalId: id, Customer: ref, Type: customerv1.InteractionType_INTERACTION_TYPE_EMAIL_OPENED, OccurredAt: timestamppb.New(time.Now().Add(-time.Hour))}
		}
		return []request{
			{"their customer id", &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{it("m-1", byID(f.customerIDs[0]))}, CreateMissingCustomers: true}, connect.CodeInvalidArgument},
			{"their external id", &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{it(f.tenant.Name+"-call-1", byExt(f.externalIDs[1]))}}, connect.CodeInvalidArgument},
		}
	},
	customerv1connect.CustomerServiceRecordReferralsProcedure: func(f *fixture) []request {
		ref := func(id string, from, to *customerv1.CustomerRef) *customerv1.Referral {
			return &customerv1.Referral{ExternalId: id, Referrer: from, Referred: to, OccurredAt: timestamppb.New(time.Now().Add(-time.Hour))}
		}
		return []request{
			{"their customer ids", &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{ref("m-1", byID(f.customerIDs[1]), byID(f.customerIDs[0]))}, CreateMissingCustomers: true}, connect.CodeInvalidArgument},
			{"their external ids", &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{ref("m-2", byExt(f.externalIDs[1]), byExt(f.externalIDs[0]))}}, connect.CodeInvalidArgument},
		}
	},

	scoringv1connect.ScoringServiceGetCustomerAssessmentProcedure: func(f *fixture) []request {
		return []request{
			{"by id", &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_CustomerId{CustomerId: f.customerIDs[0]}}, 0},
			{"by external id", &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_ExternalId{ExternalId: f.externalIDs[1]}}, 0},
		}
	},
	scoringv1connect.ScoringServiceGetValueModelProcedure: func(*fixture) []request {
		return []request{{"the tenant's model", &scoringv1.GetValueModelRequest{}, 0}}
	},
	scoringv1connect.ScoringServiceFitValueModelProcedure: func(*fixture) []request {
		return []request{{"fit the tenant's model", &scoringv1.FitValueModelRequest{}, connect.CodeFailedPrecondition}}
	},
	scoringv1connect.ScoringServiceGetRfmDistributionProcedure: func(*fixture) []request {
		return []request{{"the tenant's distribution", &scoringv1.GetRfmDistributionRequest{}, 0}}
	},
	scoringv1connect.ScoringServiceGetChurnSummaryProcedure: func(*fixture) []request {
		return []request{{"the tenant's summary", &scoringv1.GetChurnSummaryRequest{}, 0}}
	},
	scoringv1connect.ScoringServiceGetLifecycleSummaryProcedure: func(*fixture) []request {
		return []request{{"the tenant's summary", &scoringv1.GetLifecycleSummaryRequest{}, 0}}
	},

	adminv1connect.AdminServiceCreateApiKeyProcedure: func(*fixture) []request {
		return []request{{"a key", &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: "mallory", Role: adminv1.Role_ROLE_ADMIN}}, 0}}
	},
	adminv1connect.AdminServiceListApiKeysProcedure: func(f *fixture) []request {
		return []request{
			{"all", &adminv1.ListApiKeysRequest{PageSize: 1000}, 0},
			{"their page token", &adminv1.ListApiKeysRequest{PageSize: 1, PageToken: f.keysToken}, connect.CodeInvalidArgument},
		}
	},
	adminv1connect.AdminServiceRevokeApiKeyProcedure: func(f *fixture) []request {
		return []request{{"their key", &adminv1.RevokeApiKeyRequest{Id: f.spareKeyID}, 0}}
	},
	adminv1connect.AdminServiceListAuditEventsProcedure: func(f *fixture) []request {
		return []request{
			{"all", &adminv1.ListAuditEventsRequest{PageSize: 1000}, 0},
			{"their page token", &adminv1.ListAuditEventsRequest{PageSize: 1, PageToken: f.auditToken}, connect.CodeInvalidArgument},
		}
	},

	conversionv1connect.ConversionServiceTrainConversionModelProcedure: func(*fixture) []request {
		return []request{{"train the tenant's model", &conversionv1.TrainConversionModelRequest{}, 0}}
	},
	conversionv1connect.ConversionServiceGetConversionModelProcedure: func(*fixture) []request {
		return []request{{"the tenant's model", &conversionv1.GetConversionModelRequest{}, connect.CodeNotFound}}
	},
	conversionv1connect.ConversionServiceGetLeadConversionProcedure: func(f *fixture) []request {
		return []request{
			{"by id", &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_CustomerId{CustomerId: f.customerIDs[0]}}, 0},
			{"by external id", &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_ExternalId{ExternalId: f.externalIDs[1]}}, 0},
		}
	},
	conversionv1connect.ConversionServiceSetLeadOutcomesProcedure: func(f *fixture) []request {
		out := func(o *conversionv1.LeadOutcome) *conversionv1.SetLeadOutcomesRequest {
			o.Result, o.Time = conversionv1.LeadResult_LEAD_RESULT_LOST, timestamppb.New(time.Now().Add(-time.Hour))
			return &conversionv1.SetLeadOutcomesRequest{Outcomes: []*conversionv1.LeadOutcome{o}}
		}
		return []request{
			{"their customer id", out(&conversionv1.LeadOutcome{Ref: &conversionv1.LeadOutcome_CustomerId{CustomerId: f.customerIDs[0]}}), connect.CodeInvalidArgument},
			{"their external id", out(&conversionv1.LeadOutcome{Ref: &conversionv1.LeadOutcome_ExternalId{ExternalId: f.externalIDs[1]}}), connect.CodeInvalidArgument},
		}
	},

	feedbackv1connect.FeedbackServiceSubmitFeedbackProcedure: func(f *fixture) []request {
		fb := func(id string, ref *customerv1.CustomerRef) *feedbackv1.SubmitFeedbackRequest {
			return &feedbackv1.SubmitFeedbackRequest{Feedback: &feedbackv1.Feedback{ExternalId: id, Customer: ref, Kind: feedbackv1.FeedbackKind_FEEDBACK_KIND_PRAISE, OccurredAt: timestamppb.New(time.Now().Add(-time.Hour))}}
		}
		return []request{
			{"their external id", fb("m-1", byExt(f.externalIDs[0])), connect.CodeInvalidArgument},
			{"their customer id", fb("m-2", byID(f.customerIDs[1])), connect.CodeInvalidArgument},
			{"their feedback id", fb(f.tenant.Name+"-feedback-0", byExt(f.externalIDs[0])), connect.CodeInvalidArgument},
		}
	},
	feedbackv1connect.FeedbackServiceGetFeedbackProcedure: func(f *fixture) []request {
		return []request{{"their feedback", &feedbackv1.GetFeedbackRequest{Id: f.feedbackIDs[0]}, 0}, {"their nps answer", &feedbackv1.GetFeedbackRequest{Id: f.feedbackIDs[1]}, 0}}
	},
	feedbackv1connect.FeedbackServiceListFeedbackProcedure: func(f *fixture) []request {
		return []request{
			{"all", &feedbackv1.ListFeedbackRequest{PageSize: 1000}, 0},
			{"their customer id", &feedbackv1.ListFeedbackRequest{Customer: byID(f.customerIDs[0])}, 0},
			{"their external id", &feedbackv1.ListFeedbackRequest{Customer: byExt(f.externalIDs[1])}, 0},
			{"their topic", &feedbackv1.ListFeedbackRequest{Topic: f.topic, PageSize: 1000}, 0},
			{"their page token", &feedbackv1.ListFeedbackRequest{PageSize: 1, PageToken: f.feedbackToken}, connect.CodeInvalidArgument},
		}
	},
	feedbackv1connect.FeedbackServiceTransitionComplaintProcedure: func(f *fixture) []request {
		return []request{{"their complaint", &feedbackv1.TransitionComplaintRequest{Id: f.feedbackIDs[0], Status: feedbackv1.ComplaintStatus_COMPLAINT_STATUS_RESOLVED_UNJUSTIFIED, Note: "mallory"}, 0}}
	},
	feedbackv1connect.FeedbackServiceGetFeedbackSummaryProcedure: func(f *fixture) []request {
		return []request{
			{"their customers", &feedbackv1.GetFeedbackSummaryRequest{CustomerIds: f.customerIDs}, 0},
			{"their topic", &feedbackv1.GetFeedbackSummaryRequest{Topics: []string{f.topic}}, 0},
		}
	},
	feedbackv1connect.FeedbackServiceCreateTopicRuleProcedure: func(f *fixture) []request {
		return []request{{"their topic", &feedbackv1.CreateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: f.topic, Keywords: []string{"mallory"}}}, 0}}
	},
	feedbackv1connect.FeedbackServiceGetTopicRuleProcedure: func(f *fixture) []request {
		return []request{{"their topic", &feedbackv1.GetTopicRuleRequest{Topic: f.topic}, 0}}
	},
	feedbackv1connect.FeedbackServiceListTopicRulesProcedure: func(*fixture) []request {
		return []request{{"all", &feedbackv1.ListTopicRulesRequest{}, 0}}
	},
	feedbackv1connect.FeedbackServiceUpdateTopicRuleProcedure: func(f *fixture) []request {
		return []request{{"their topic", &feedbackv1.UpdateTopicRuleRequest{TopicRule: &feedbackv1.TopicRule{Topic: f.topic, Keywords: []string{"mallory"}}}, 0}}
	},
	feedbackv1connect.FeedbackServiceDeleteTopicRuleProcedure: func(f *fixture) []request {
		return []request{{"their topic", &feedbackv1.DeleteTopicRuleRequest{Topic: f.topic}, 0}}
	},

	segmentv1connect.SegmentServiceCreateSegmentProcedure: func(f *fixture) []request {
		static := &segmentv1.Segment{Name: "mallory", Kind: segmentv1.SegmentKind_SEGMENT_KIND_STATIC}
		return []request{
			{"their customer id", &segmentv1.CreateSegmentRequest{Segment: static, Members: []*customerv1.CustomerRef{byID(f.customerIDs[0])}}, connect.CodeInvalidArgument},
			{"their external id", &segmentv1.CreateSegmentRequest{Segment: static, Members: []*customerv1.CustomerRef{byExt(f.externalIDs[1])}}, connect.CodeInvalidArgument},
		}
	},
	segmentv1connect.SegmentServiceGetSegmentProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.GetSegmentRequest{Id: f.segmentID}, 0}}
	},
	segmentv1connect.SegmentServiceListSegmentsProcedure: func(*fixture) []request {
		return []request{{"all", &segmentv1.ListSegmentsRequest{}, 0}}
	},
	segmentv1connect.SegmentServiceUpdateSegmentProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.UpdateSegmentRequest{Segment: &segmentv1.Segment{Id: f.segmentID, Name: "mallory"}}, 0}}
	},
	segmentv1connect.SegmentServiceDeleteSegmentProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.DeleteSegmentRequest{Id: f.segmentID}, 0}}
	},
	segmentv1connect.SegmentServiceAddSegmentMembersProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.AddSegmentMembersRequest{SegmentId: f.segmentID, Customers: []*customerv1.CustomerRef{byID(f.customerIDs[1])}}, 0}}
	},
	segmentv1connect.SegmentServiceRemoveSegmentMembersProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.RemoveSegmentMembersRequest{SegmentId: f.segmentID, Customers: []*customerv1.CustomerRef{byID(f.customerIDs[0])}}, 0}}
	},
	segmentv1connect.SegmentServicePreviewSegmentProcedure: func(*fixture) []request {
		return []request{{"every customer", &segmentv1.PreviewSegmentRequest{Rule: `customer.country == "PL"`, SampleSize: 100}, 0}}
	},
	segmentv1connect.SegmentServiceListSegmentMembersProcedure: func(f *fixture) []request {
		return []request{
			{"their segment", &segmentv1.ListSegmentMembersRequest{SegmentId: f.segmentID}, 0},
			{"their page token", &segmentv1.ListSegmentMembersRequest{SegmentId: f.segmentID, PageToken: f.membersToken}, 0},
		}
	},
	segmentv1connect.SegmentServiceListCustomerSegmentsProcedure: func(f *fixture) []request {
		return []request{
			{"their customer id", &segmentv1.ListCustomerSegmentsRequest{Customer: byID(f.customerIDs[0])}, 0},
			{"their external id", &segmentv1.ListCustomerSegmentsRequest{Customer: byExt(f.externalIDs[0])}, 0},
		}
	},
	segmentv1connect.SegmentServiceListSegmentEventsProcedure: func(f *fixture) []request {
		return []request{
			{"their segment", &segmentv1.ListSegmentEventsRequest{SegmentIds: []string{f.segmentID}}, 0},
			{"their customer", &segmentv1.ListSegmentEventsRequest{Customer: byID(f.customerIDs[0])}, 0},
			{"all", &segmentv1.ListSegmentEventsRequest{PageSize: 1000}, 0},
		}
	},
	segmentv1connect.SegmentServiceWatchSegmentEventsProcedure: func(f *fixture) []request {
		return []request{{"their segment", &segmentv1.WatchSegmentEventsRequest{SegmentIds: []string{f.segmentID}}, 0}}
	},

	webhookv1connect.WebhookServiceCreateWebhookDestinationProcedure: func(f *fixture) []request {
		return []request{{"their url", &webhookv1.CreateWebhookDestinationRequest{Destination: &webhookv1.WebhookDestination{Url: f.webhookURL}}, connect.CodeAlreadyExists}}
	},
	webhookv1connect.WebhookServiceListWebhookDestinationsProcedure: func(*fixture) []request {
		return []request{{"all", &webhookv1.ListWebhookDestinationsRequest{}, 0}}
	},
	webhookv1connect.WebhookServiceDeleteWebhookDestinationProcedure: func(f *fixture) []request {
		return []request{{"their destination", &webhookv1.DeleteWebhookDestinationRequest{Id: f.destinationID}, connect.CodeFailedPrecondition}}
	},
	webhookv1connect.WebhookServiceCreateWebhookSubscriptionProcedure: func(f *fixture) []request {
		grades := []webhookv1.WebhookEventType{webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_GRADE_CHANGED}
		entered := []webhookv1.WebhookEventType{webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED}
		return []request{
			{"their url", &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{Url: f.webhookURL, EventTypes: grades}}, connect.CodeInvalidArgument},
			{"their segment", &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{Url: f.webhookURL, EventTypes: entered,
				SegmentIds: []string{f.segmentID}}}, connect.CodeInvalidArgument},
		}
	},
	webhookv1connect.WebhookServiceGetWebhookSubscriptionProcedure: func(f *fixture) []request {
		return []request{{"their subscription", &webhookv1.GetWebhookSubscriptionRequest{Id: f.subscriptionID}, 0}}
	},
	webhookv1connect.WebhookServiceListWebhookSubscriptionsProcedure: func(*fixture) []request {
		return []request{{"all", &webhookv1.ListWebhookSubscriptionsRequest{}, 0}}
	},
	webhookv1connect.WebhookServiceUpdateWebhookSubscriptionProcedure: func(f *fixture) []request {
		return []request{{"their subscription", &webhookv1.UpdateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{Id: f.subscriptionID,
			Description: "mallory"}}, 0}}
	},
	webhookv1connect.WebhookServiceRotateWebhookSecretProcedure: func(f *fixture) []request {
		return []request{{"their subscription", &webhookv1.RotateWebhookSecretRequest{Id: f.subscriptionID}, 0}}
	},
	webhookv1connect.WebhookServiceDeleteWebhookSubscriptionProcedure: func(f *fixture) []request {
		return []request{{"their subscription", &webhookv1.DeleteWebhookSubscriptionRequest{Id: f.subscriptionID}, 0}}
	},
	webhookv1connect.WebhookServiceListWebhookDeliveriesProcedure: func(f *fixture) []request {
		return []request{{"their subscription", &webhookv1.ListWebhookDeliveriesRequest{SubscriptionId: f.subscriptionID}, 0}}
	},
}

// addWebhookFixture gives f a webhook destination and a subscription to it.
func addWebhookFixture(t *testing.T, e *env, f *fixture) {
	t.Helper()
	ctx := t.Context()
	c := webhookv1connect.NewWebhookServiceClient(e.h2c, e.httpURL, connect.WithInterceptors(sendKey(f.admin)))
	f.webhookURL = "https://hooks.example.com/" + f.tenant.Name
	d, err := c.CreateWebhookDestination(ctx, &webhookv1.CreateWebhookDestinationRequest{Destination: &webhookv1.WebhookDestination{Url: f.webhookURL}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.CreateWebhookSubscription(ctx, &webhookv1.CreateWebhookSubscriptionRequest{Subscription: &webhookv1.WebhookSubscription{
		Url: f.webhookURL, EventTypes: []webhookv1.WebhookEventType{webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED},
		SegmentIds: []string{f.segmentID}}})
	if err != nil {
		t.Fatal(err)
	}
	f.destinationID, f.subscriptionID = d.GetId(), sub.GetSubscription().GetId()
	f.markers = append(f.markers, f.destinationID, f.subscriptionID, sub.GetSecret())
}

// addSegmentFixture gives f a static segment with its first customer (and
// so events), and a page token of the members of a built-in segment.
func addSegmentFixture(t *testing.T, e *env, f *fixture) {
	t.Helper()
	ctx := t.Context()
	c := segmentv1connect.NewSegmentServiceClient(e.h2c, e.httpURL, connect.WithInterceptors(sendKey(f.admin)))
	sg, err := c.CreateSegment(ctx, &segmentv1.CreateSegmentRequest{
		Segment: &segmentv1.Segment{Name: f.tenant.Name + " vip", Kind: segmentv1.SegmentKind_SEGMENT_KIND_STATIC},
		Members: []*customerv1.CustomerRef{byID(f.customerIDs[0]), byID(f.customerIDs[1])},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.segmentID = sg.GetId()
	f.markers = append(f.markers, f.segmentID)
	ms, err := c.ListSegmentMembers(ctx, &segmentv1.ListSegmentMembersRequest{SegmentId: f.segmentID, PageSize: 1})
	if err != nil || ms.GetNextPageToken() == "" {
		t.Fatalf("ListSegmentMembers: %v, %v", ms, err)
	}
	f.membersToken = ms.GetNextPageToken()
}

func byID(id string) *customerv1.CustomerRef {
	return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_Id{Id: id}}
}

func byExt(id string) *customerv1.CustomerRef {
	return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: id}}
}

// requestsFor returns the requests of m addressing f, failing the test
// when m has no entry in rpcRequests.
func requestsFor(t *testing.T, m protoreflect.MethodDescriptor, f *fixture) []request {
	t.Helper()
	build, ok := rpcRequests[procedure(m)]
	if !ok {
		t.Errorf("%s has no entry in rpcRequests (server/security_test.go): add the requests that address a tenant's data through it", procedure(m))
		return nil
	}
	reqs := build(f)
	for _, r := range reqs {
		if r.msg.ProtoReflect().Descriptor() != m.Input() {
			t.Fatalf("%s %q: a %s, want a %s", procedure(m), r.name, r.msg.ProtoReflect().Descriptor().FullName(), m.Input().FullName())
		}
	}
	return reqs
}

// invoke calls m with req and key over tr: grpc-go on the gRPC port, or
// connect-go (Connect protocol, binary or JSON) on the HTTP port, with
// messages built from the descriptors alone, so that it serves every RPC.
// It returns every response message (one for unary calls) and the error
// as a *connect.Error.
func invoke(t *testing.T, e *env, tr transport, key string, m protoreflect.MethodDescriptor, req proto.Message) ([]proto.Message, error) {
	t.Helper()
	proc := procedure(m)
	ctx := t.Context()
	if m.IsStreamingServer() && m.Name() == "WatchSegmentEvents" {
		// A watch ends only when its client ends it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
	}
	if tr == viaGRPC {
		outType, err := protoregistry.GlobalTypes.FindMessageByName(m.Output().FullName())
		if err != nil {
			t.Fatal(err)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
		if !m.IsStreamingServer() && !m.IsStreamingClient() {
			resp := outType.New().Interface()
			if err := e.conn.Invoke(ctx, proc, req, resp); err != nil {
				return nil, grpcErr(err)
			}
			return []proto.Message{resp}, nil
		}
		stream, err := e.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: m.IsStreamingServer(), ClientStreams: m.IsStreamingClient()}, proc)
		if err != nil {
			return nil, grpcErr(err)
		}
		if err := stream.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
			return nil, grpcErr(err)
		}
		if err := stream.CloseSend(); err != nil {
			return nil, grpcErr(err)
		}
		var out []proto.Message
		for {
			resp := outType.New().Interface()
			if err := stream.RecvMsg(resp); errors.Is(err, io.EOF) {
				return out, nil
			} else if err != nil {
				return out, grpcErr(err)
			}
			out = append(out, resp)
		}
	}
	opts := []connect.ClientOption{
		connect.WithSchema(m),
		connect.WithInterceptors(sendKey(key)),
		connect.WithResponseInitializer(func(_ connect.Spec, msg any) error {
			*msg.(*dynamicpb.Message) = *dynamicpb.NewMessage(m.Output())
			return nil
		}),
	}
	if tr == viaConnectJSON {
		opts = append(opts, connect.WithProtoJSON())
	}
	client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](e.h2c, e.httpURL+proc, opts...)
	dyn := dynamicpb.NewMessage(m.Input())
	if b, err := proto.Marshal(req); err != nil || proto.Unmarshal(b, dyn) != nil {
		t.Fatalf("%s: cannot convert the request: %v", proc, err)
	}
	switch {
	case m.IsStreamingServer() && !m.IsStreamingClient():
		stream, err := client.CallServerStream(ctx, connect.NewRequest(dyn))
		if err != nil {
			return nil, err
		}
		defer stream.Close()
		var out []proto.Message
		for stream.Receive() {
			out = append(out, stream.Msg())
		}
		return out, stream.Err()
	case !m.IsStreamingServer() && !m.IsStreamingClient():
		res, err := client.CallUnary(ctx, connect.NewRequest(dyn))
		if err != nil {
			return nil, err
		}
		return []proto.Message{res.Msg}, nil
	}
	t.Fatalf("%s: client and bidirectional streams are not supported by invoke yet", proc)
	return nil, nil
}

// TestEveryRPCEveryRole calls every registered RPC with a key of every
// role, over both ports, and checks the outcome against server.RolesFor:
// an allowed role is never PermissionDenied, any other always is.
func TestEveryRPCEveryRole(t *testing.T) {
	t.Parallel()
	e := start(t, memory.New())
	ctx := t.Context()
	own := newFixture(t, e, "own")
	keys := map[domain.Role]string{}
	for _, role := range []domain.Role{domain.RoleAdmin, domain.RoleAnalyst, domain.RoleSales, domain.RoleIngest} {
		_, text, err := e.svc.CreateKey(domain.WithPrincipal(ctx, domain.CommandLine(own.tenant.ID)), string(role), role, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		keys[role] = text
	}
	methods := registeredMethods()
	for _, m := range methods {
		allowed := server.RolesFor(procedure(m))
		// The rules of the issue that the table must keep, whatever it says.
		if !slices.Contains(allowed, domain.RoleAdmin) {
			t.Errorf("%s: admins may not call it", procedure(m))
		}
		if m.Parent().FullName() == "potential.admin.v1.AdminService" && len(allowed) != 1 {
			t.Errorf("%s: roles %v; AdminService is for admins only", procedure(m), allowed)
		}
		reqs := requestsFor(t, m, own)
		if len(reqs) == 0 {
			continue
		}
		for _, role := range []domain.Role{domain.RoleAdmin, domain.RoleAnalyst, domain.RoleSales, domain.RoleIngest} {
			for _, tr := range []transport{viaGRPC, viaConnect} {
				_, err := invoke(t, e, tr, keys[role], m, reqs[0].msg)
				denied := connect.CodeOf(err) == connect.CodePermissionDenied
				if want := !slices.Contains(allowed, role); denied != want {
					t.Errorf("%s as %s over %s: %v; want denied %v (allowed: %v)", procedure(m), role, tr, err, want, allowed)
				}
			}
		}
	}
}

// TestCrossTenantMatrix calls every registered RPC as an admin of tenant A
// with the ids, external ids, page tokens and filters of tenant B, on both
// stores, over gRPC and Connect (binary and JSON). Every call must end in
// NotFound, the request's own permitted rejection (e.g. InvalidArgument for
// B's page token, which is bound to B) or an answer made of A's data alone:
// no id or personal datum of B appears in it. B's data is the same after
// as before.
func TestCrossTenantMatrix(t *testing.T) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range []transport{viaGRPC, viaConnect, viaConnectJSON} {
				t.Run(string(tr), func(t *testing.T) {
					t.Parallel()
					e := start(t, st.open(t))
					newFixture(t, e, "mine") // A's own data, which answers may show
					theirs := newFixture(t, e, "theirs")
					before := snapshot(t, e, theirs)
					// Exemption: the scoring use cases need a store that keeps
					// assessments (domain.AssessmentStore); on one that does not
					// they fail with Internal, which discloses nothing. It ends
					// by itself when the store implements the port.
					_, keepsAssessments := e.svc.Store().(domain.AssessmentStore)
					for _, m := range registeredMethods() {
						for _, r := range requestsFor(t, m, theirs) {
							resps, err := invoke(t, e, tr, adminKey, m, r.msg)
							code := connect.CodeOf(err)
							if code == connect.CodeInternal && !keepsAssessments && m.Parent().FullName() == "potential.scoring.v1.ScoringService" {
								continue
							}
							if err != nil && code != connect.CodeNotFound && (r.mayReject == 0 || code != r.mayReject) {
								t.Errorf("%s %s: %v; want NotFound or an answer without their data", procedure(m), r.name, err)
							}
							if err != nil {
								var ce *connect.Error
								if errors.As(err, &ce) {
									// It may repeat the ids the request gave, nothing else.
									wantNoMarkers(t, procedure(m)+" "+r.name+" error", ce.Message(), theirs.pii)
								}
							}
							for _, resp := range resps {
								wantNoMarkers(t, procedure(m)+" "+r.name, protojson.Format(resp), theirs.markers)
							}
						}
					}
					after := snapshot(t, e, theirs)
					for i := range before {
						if !proto.Equal(before[i], after[i]) {
							t.Errorf("their data changed:\nbefore %v\n after %v", before[i], after[i])
						}
					}
					if _, err := e.svc.Authenticate(t.Context(), theirs.admin); err != nil {
						t.Errorf("their admin key: %v", err)
					}
					for _, id := range theirs.keyIDs[2:] {
						k, err := e.svc.Store().GetAPIKey(t.Context(), id)
						if err != nil || !k.RevokeTime.IsZero() {
							t.Errorf("their key %s: %+v, %v; want it unrevoked", id, k, err)
						}
					}
				})
			}
		})
	}
}

// wantNoMarkers fails if text contains any of markers.
func wantNoMarkers(t *testing.T, what, text string, markers []string) {
	t.Helper()
	for _, mk := range markers {
		if strings.Contains(text, mk) {
			t.Errorf("%s shows the other tenant's %q:\n%s", what, mk, text)
		}
	}
}

// snapshot reads everything of f's tenant through the API, as f's admin.
func snapshot(t *testing.T, e *env, f *fixture) []proto.Message {
	t.Helper()
	ctx := t.Context()
	customers, err := e.client(viaConnect, f.admin).ListCustomers(ctx, &customerv1.ListCustomersRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.adminClient(viaConnect, f.admin)
	keys, err := admin.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.GetApiKeys() {
		k.State = adminv1.ApiKeyState_API_KEY_STATE_UNSPECIFIED // depends on the time of reading
	}
	audit, err := admin.ListAuditEvents(ctx, &adminv1.ListAuditEventsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	feedback := e.feedbackClient(viaConnect, f.admin)
	fb, err := feedback.ListFeedback(ctx, &feedbackv1.ListFeedbackRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := feedback.ListTopicRules(ctx, &feedbackv1.ListTopicRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return append([]proto.Message{customers, keys, audit, fb, rules}, scoringSnapshot(t, e, f)...)
}
