package server

import (
	"fmt"
	"slices"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/gen/go/potential/admin/v1/adminv1connect"
	"github.com/potentialhq/potential/gen/go/potential/conversion/v1/conversionv1connect"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	"github.com/potentialhq/potential/gen/go/potential/feedback/v1/feedbackv1connect"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
	"github.com/potentialhq/potential/gen/go/potential/webhook/v1/webhookv1connect"
)

var (
	readers    = []domain.Role{domain.RoleAdmin, domain.RoleAnalyst, domain.RoleSales}
	writers    = []domain.Role{domain.RoleAdmin, domain.RoleIngest}
	engagement = []domain.Role{domain.RoleAdmin, domain.RoleIngest, domain.RoleSales}
	adminOnly  = []domain.Role{domain.RoleAdmin}
	analysts   = []domain.Role{domain.RoleAdmin, domain.RoleAnalyst}
)

// rpcRoles maps every RPC (by its full procedure name) to the roles allowed
// to call it. An RPC missing from the table is denied to everyone; a test
// checks that every registered RPC has an entry.
var rpcRoles = map[string][]domain.Role{
	customerv1connect.CustomerServiceCreateCustomerProcedure:       writers,
	customerv1connect.CustomerServiceGetCustomerProcedure:          readers,
	customerv1connect.CustomerServiceUpdateCustomerProcedure:       writers,
	customerv1connect.CustomerServiceDeleteCustomerProcedure:       adminOnly,
	customerv1connect.CustomerServiceListCustomersProcedure:        readers,
	customerv1connect.CustomerServiceBatchUpsertCustomersProcedure: writers,
	customerv1connect.CustomerServiceRecordTransactionsProcedure:   writers,
	customerv1connect.CustomerServiceRecordInteractionsProcedure:   engagement,
	customerv1connect.CustomerServiceRecordReferralsProcedure:      writers,

	scoringv1connect.ScoringServiceGetCustomerAssessmentProcedure: readers,
	scoringv1connect.ScoringServiceGetValueModelProcedure:         readers,
	scoringv1connect.ScoringServiceFitValueModelProcedure:         analysts,
	scoringv1connect.ScoringServiceGetRfmDistributionProcedure:    readers,
	scoringv1connect.ScoringServiceGetChurnSummaryProcedure:       readers,
	scoringv1connect.ScoringServiceGetLifecycleSummaryProcedure:   readers,

	// Scoring rules and grading: admins change rules and the policy,
	// analysts also preview changes, and every reader reads.
	scoringv1connect.ScoringServiceCreateScoringModelProcedure:      adminOnly,
	scoringv1connect.ScoringServiceGetScoringModelProcedure:         readers,
	scoringv1connect.ScoringServiceListScoringModelsProcedure:       readers,
	scoringv1connect.ScoringServiceDeleteScoringModelProcedure:      adminOnly,
	scoringv1connect.ScoringServiceCreateScoringRuleProcedure:       adminOnly,
	scoringv1connect.ScoringServiceGetScoringRuleProcedure:          readers,
	scoringv1connect.ScoringServiceListScoringRulesProcedure:        readers,
	scoringv1connect.ScoringServiceListScoringRuleVersionsProcedure: readers,
	scoringv1connect.ScoringServiceUpdateScoringRuleProcedure:       adminOnly,
	scoringv1connect.ScoringServiceDeleteScoringRuleProcedure:       adminOnly,
	scoringv1connect.ScoringServicePreviewRuleChangeProcedure:       analysts,
	scoringv1connect.ScoringServiceGetScoreProcedure:                readers,
	scoringv1connect.ScoringServiceExplainScoreProcedure:            readers,
	scoringv1connect.ScoringServiceGetGradingPolicyProcedure:        readers,
	scoringv1connect.ScoringServiceGetGradeDistributionProcedure:    readers,
	scoringv1connect.ScoringServiceUpdateGradingPolicyProcedure:     adminOnly,
	scoringv1connect.ScoringServicePreviewPolicyChangeProcedure:     analysts,
	scoringv1connect.ScoringServiceGetCustomerGradeProcedure:        readers,
	scoringv1connect.ScoringServiceListGradeChangesProcedure:        readers,
	scoringv1connect.ScoringServiceListTopCustomersProcedure:        readers,
	scoringv1connect.ScoringServiceGetActionTableProcedure:          readers,
	scoringv1connect.ScoringServiceUpdateActionTableProcedure:       adminOnly,

	adminv1connect.AdminServiceCreateApiKeyProcedure:    adminOnly,
	adminv1connect.AdminServiceListApiKeysProcedure:     adminOnly,
	adminv1connect.AdminServiceRevokeApiKeyProcedure:    adminOnly,
	adminv1connect.AdminServiceListAuditEventsProcedure: adminOnly,

	// Lead conversion: analysts train, readers read, and the CRM's ingest
	// (and sales) report outcomes.
	conversionv1connect.ConversionServiceTrainConversionModelProcedure: analysts,
	conversionv1connect.ConversionServiceGetConversionModelProcedure:   readers,
	conversionv1connect.ConversionServiceGetLeadConversionProcedure:    readers,
	conversionv1connect.ConversionServiceSetLeadOutcomesProcedure:      engagement,

	// Feedback: sales and ingest submit it (sales also read it); the
	// complaint workflow and topic rules are for admins.
	feedbackv1connect.FeedbackServiceSubmitFeedbackProcedure:      engagement,
	feedbackv1connect.FeedbackServiceGetFeedbackProcedure:         readers,
	feedbackv1connect.FeedbackServiceListFeedbackProcedure:        readers,
	feedbackv1connect.FeedbackServiceTransitionComplaintProcedure: adminOnly,
	feedbackv1connect.FeedbackServiceGetFeedbackSummaryProcedure:  readers,
	feedbackv1connect.FeedbackServiceCreateTopicRuleProcedure:     adminOnly,
	feedbackv1connect.FeedbackServiceGetTopicRuleProcedure:        readers,
	feedbackv1connect.FeedbackServiceListTopicRulesProcedure:      readers,
	feedbackv1connect.FeedbackServiceUpdateTopicRuleProcedure:     adminOnly,
	feedbackv1connect.FeedbackServiceDeleteTopicRuleProcedure:     adminOnly,

	// Segments: analysts define them; readers (and the systems that
	// follow them with a sales key) read and watch them.
	segmentv1connect.SegmentServiceCreateSegmentProcedure:        analysts,
	segmentv1connect.SegmentServiceGetSegmentProcedure:           readers,
	segmentv1connect.SegmentServiceListSegmentsProcedure:         readers,
	segmentv1connect.SegmentServiceUpdateSegmentProcedure:        analysts,
	segmentv1connect.SegmentServiceDeleteSegmentProcedure:        analysts,
	segmentv1connect.SegmentServiceAddSegmentMembersProcedure:    analysts,
	segmentv1connect.SegmentServiceRemoveSegmentMembersProcedure: analysts,
	segmentv1connect.SegmentServicePreviewSegmentProcedure:       analysts,
	segmentv1connect.SegmentServiceListSegmentMembersProcedure:   readers,
	segmentv1connect.SegmentServiceListCustomerSegmentsProcedure: readers,
	segmentv1connect.SegmentServiceListSegmentEventsProcedure:    readers,
	segmentv1connect.SegmentServiceWatchSegmentEventsProcedure:   readers,

	// Webhooks: admins register destinations, manage subscriptions (whose
	// secrets they see) and read the delivery log.
	webhookv1connect.WebhookServiceCreateWebhookDestinationProcedure:  adminOnly,
	webhookv1connect.WebhookServiceListWebhookDestinationsProcedure:   adminOnly,
	webhookv1connect.WebhookServiceDeleteWebhookDestinationProcedure:  adminOnly,
	webhookv1connect.WebhookServiceCreateWebhookSubscriptionProcedure: adminOnly,
	webhookv1connect.WebhookServiceGetWebhookSubscriptionProcedure:    adminOnly,
	webhookv1connect.WebhookServiceListWebhookSubscriptionsProcedure:  adminOnly,
	webhookv1connect.WebhookServiceUpdateWebhookSubscriptionProcedure: adminOnly,
	webhookv1connect.WebhookServiceRotateWebhookSecretProcedure:       adminOnly,
	webhookv1connect.WebhookServiceDeleteWebhookSubscriptionProcedure: adminOnly,
	webhookv1connect.WebhookServiceListWebhookDeliveriesProcedure:     adminOnly,
}

// RolesFor returns the roles allowed to call procedure (its full name,
// e.g. "/potential.admin.v1.AdminService/CreateApiKey"); none for an
// unknown procedure.
func RolesFor(procedure string) []domain.Role {
	return slices.Clone(rpcRoles[procedure])
}

// authorize reports whether role may call procedure.
func authorize(procedure string, role domain.Role) error {
	for _, r := range rpcRoles[procedure] {
		if r == role {
			return nil
		}
	}
	return fmt.Errorf("%w: role %s may not call %s", domain.ErrPermissionDenied, role, procedure)
}
