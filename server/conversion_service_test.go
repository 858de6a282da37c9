package server_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/conversiontest"
	conversionv1 "github.com/potentialhq/potential/gen/go/potential/conversion/v1"
	"github.com/potentialhq/potential/gen/go/potential/conversion/v1/conversionv1connect"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/store/memory"
)

// conversionClient returns a ConversionService client over t that sends key.
func (e *env) conversionClient(t transport, key string) conversionv1connect.ConversionServiceClient {
	opts := []connect.ClientOption{connect.WithInterceptors(sendKey(key))}
	switch t {
	case viaGRPC:
		return grpcConversion{c: conversionv1.NewConversionServiceClient(e.conn), g: grpcClient{key: key}}
	case viaConnectJSON:
		opts = append(opts, connect.WithProtoJSON())
	case viaConnectGRPC:
		opts = append(opts, connect.WithGRPC())
	case viaGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return conversionv1connect.NewConversionServiceClient(e.h2c, e.httpURL, opts...)
}

// grpcConversion adapts the grpc-go client to connect's client interface.
type grpcConversion struct {
	c conversionv1.ConversionServiceClient
	g grpcClient
}

func (g grpcConversion) TrainConversionModel(ctx context.Context, r *conversionv1.TrainConversionModelRequest) (*conversionv1.ConversionModel, error) {
	return call(ctx, g.g, g.c.TrainConversionModel, r)
}
func (g grpcConversion) GetConversionModel(ctx context.Context, r *conversionv1.GetConversionModelRequest) (*conversionv1.ConversionModel, error) {
	return call(ctx, g.g, g.c.GetConversionModel, r)
}
func (g grpcConversion) GetLeadConversion(ctx context.Context, r *conversionv1.GetLeadConversionRequest) (*conversionv1.LeadConversion, error) {
	return call(ctx, g.g, g.c.GetLeadConversion, r)
}
func (g grpcConversion) SetLeadOutcomes(ctx context.Context, r *conversionv1.SetLeadOutcomesRequest) (*conversionv1.SetLeadOutcomesResponse, error) {
	return call(ctx, g.g, g.c.SetLeadOutcomes, r)
}

// conversionEnv serves a store whose default tenant holds n synthetic
// leads (conversiontest), generated with a clock that ends well before now.
func conversionEnv(t *testing.T, n int) (*env, []conversiontest.Lead) {
	t.Helper()
	store := memory.New()
	e := start(t, store)
	tn, err := store.FindTenant(t.Context(), domain.DefaultTenantName)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Time
	gen := domain.NewService(store, func() time.Time { return now })
	ctx := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "fixture", Role: domain.RoleAdmin})
	day0 := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -(conversiontest.Days + 130))
	leads := conversiontest.Generate(t, ctx, gen, func(t time.Time) { now = t }, day0, n, 9)
	return e, leads
}

// TestConversionOverEveryTransport trains a model on a synthetic tenant
// and reads it, and a fresh lead's probability with its reasons, through
// grpc-go and every Connect protocol.
func TestConversionOverEveryTransport(t *testing.T) {
	t.Parallel()
	e, leads := conversionEnv(t, 3_000)
	ctx := t.Context()
	trained, err := e.conversionClient(viaGRPC, adminKey).TrainConversionModel(ctx, &conversionv1.TrainConversionModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if trained.GetStatus() != conversionv1.ConversionModelStatus_CONVERSION_MODEL_STATUS_READY ||
		trained.GetLastAttempt().GetResult() != conversionv1.AttemptResult_ATTEMPT_RESULT_INSTALLED ||
		int(trained.GetLastAttempt().GetConverted()+trained.GetLastAttempt().GetLost()) != len(leads) {
		t.Fatalf("trained: %v", trained)
	}
	fit := trained.GetCurrent()
	if fit.GetValidation().GetAuc() < 0.6 || len(fit.GetValidation().GetCalibration()) != 10 || len(fit.GetFeatures()) < 30 || fit.GetTrainTime() == nil {
		t.Errorf("fit: auc %v, %d calibration rows, %d features", fit.GetValidation().GetAuc(), len(fit.GetValidation().GetCalibration()), len(fit.GetFeatures()))
	}
	// A fresh, promising lead.
	svcCtx := domain.WithPrincipal(ctx, domain.Principal{TenantID: tenantOf(t, e), KeyID: "t", Role: domain.RoleAdmin})
	lead, err := e.svc.CreateCustomer(svcCtx, domain.Customer{ExternalID: "fresh", Kind: domain.KindLead, DisplayName: "Fresh", AcquisitionChannel: "referral",
		Qualification: domain.Qualification{Budget: 9_000 * 1_000_000, Authority: domain.AuthorityBudgetApprover}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			c := e.conversionClient(tr, adminKey)
			m, err := c.GetConversionModel(ctx, &conversionv1.GetConversionModelRequest{})
			if err != nil || m.GetCurrent().GetId() != fit.GetId() || m.GetMinConvertedLeads() != domain.MinConvertedLeads {
				t.Fatalf("GetConversionModel = %v, %v", m, err)
			}
			lc, err := c.GetLeadConversion(ctx, &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_ExternalId{ExternalId: "fresh"}})
			if err != nil {
				t.Fatal(err)
			}
			if lc.GetStatus() != conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_SCORED || lc.GetCustomerId() != lead.ID ||
				lc.GetProbability() <= 0 || lc.GetProbability() >= 1 || lc.GetBand() == conversionv1.ConversionBand_CONVERSION_BAND_UNSPECIFIED ||
				len(lc.GetPositiveFactors()) == 0 || lc.GetModelId() != fit.GetId() {
				t.Errorf("GetLeadConversion = %v", lc)
			}
			// The lead's assessment carries the same output.
			a, err := scoringClient(e, tr, adminKey).GetCustomerAssessment(ctx, &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_ExternalId{ExternalId: "fresh"}})
			if err != nil || a.GetConversion().GetStatus() != conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_SCORED ||
				a.GetConversion().GetProbability() != lc.GetProbability() || a.GetConversion().GetBand() != lc.GetBand() ||
				len(a.GetConversion().GetPositiveFactors()) != len(lc.GetPositiveFactors()) {
				t.Errorf("GetCustomerAssessment of the lead: conversion %v, %v; GetLeadConversion %v", a.GetConversion(), err, lc)
			}
			// Leads by conversion probability, best first.
			top, err := e.rulesClient(tr, adminKey).ListTopCustomers(ctx, &scoringv1.ListTopCustomersRequest{OrderBy: scoringv1.TopCustomerOrder_TOP_CUSTOMER_ORDER_CONVERSION, PageSize: 5})
			if err != nil || len(top.GetCustomers()) != 5 || top.GetNextPageToken() == "" {
				t.Fatalf("ListTopCustomers by conversion = %v, %v", top, err)
			}
			for i, row := range top.GetCustomers() {
				if row.GetConversionBand() == "" || row.GetConversionProbability() <= 0 || (i > 0 && row.GetConversionProbability() > top.GetCustomers()[i-1].GetConversionProbability()) {
					t.Errorf("row %d: %v", i, row)
				}
			}
			// A converted lead: no probability.
			done, err := c.GetLeadConversion(ctx, &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_CustomerId{CustomerId: converted(leads).ID}})
			if err != nil || done.GetStatus() != conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_CONVERTED || done.GetProbability() != 0 {
				t.Errorf("converted lead: %v, %v", done, err)
			}
			// Bad input names the field.
			_, err = c.TrainConversionModel(ctx, &conversionv1.TrainConversionModelRequest{ConversionWindowDays: 30, ObservationDays: 30})
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("observation_days = window: %v", err)
			}
			_, err = c.GetConversionModel(ctx, &conversionv1.GetConversionModelRequest{ScoringModelId: "nope"})
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("bad scoring_model_id: %v", err)
			}
			_, err = c.SetLeadOutcomes(ctx, &conversionv1.SetLeadOutcomesRequest{Outcomes: []*conversionv1.LeadOutcome{{
				Ref: &conversionv1.LeadOutcome_ExternalId{ExternalId: "nobody"}, Result: conversionv1.LeadResult_LEAD_RESULT_WON, Time: timestamppb.Now()}}})
			if connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("an outcome of an unknown lead: %v, want NotFound", err)
			}
		})
	}
	// Reporting the fresh lead won makes it converted.
	if _, err := e.conversionClient(viaConnect, adminKey).SetLeadOutcomes(ctx, &conversionv1.SetLeadOutcomesRequest{Outcomes: []*conversionv1.LeadOutcome{{
		Ref: &conversionv1.LeadOutcome_ExternalId{ExternalId: "fresh"}, Result: conversionv1.LeadResult_LEAD_RESULT_WON, Time: timestamppb.New(time.Now().Add(-time.Minute))}}}); err != nil {
		t.Fatal(err)
	}
	lc, err := e.conversionClient(viaGRPC, adminKey).GetLeadConversion(ctx, &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_ExternalId{ExternalId: "fresh"}})
	if err != nil || lc.GetStatus() != conversionv1.LeadConversionStatus_LEAD_CONVERSION_STATUS_CONVERTED {
		t.Errorf("after won: %v, %v", lc, err)
	}
}

// TestConversionInsufficientDataOverTheAPI: too few leads → the model
// state says so with the counts, and a lead gets no probability.
func TestConversionInsufficientDataOverTheAPI(t *testing.T) {
	t.Parallel()
	e, leads := conversionEnv(t, 60)
	ctx := t.Context()
	for _, tr := range []transport{viaGRPC, viaConnect} {
		c := e.conversionClient(tr, adminKey)
		m, err := c.TrainConversionModel(ctx, &conversionv1.TrainConversionModelRequest{})
		if err != nil {
			t.Fatal(err)
		}
		a := m.GetLastAttempt()
		if m.GetStatus() != conversionv1.ConversionModelStatus_CONVERSION_MODEL_STATUS_INSUFFICIENT_DATA || m.GetCurrent() != nil ||
			a.GetResult() != conversionv1.AttemptResult_ATTEMPT_RESULT_INSUFFICIENT_DATA || int(a.GetConverted()+a.GetLost()) != len(leads) || a.GetReason() == "" {
			t.Errorf("%s: %v", tr, m)
		}
		lc, err := c.GetLeadConversion(ctx, &conversionv1.GetLeadConversionRequest{Ref: &conversionv1.GetLeadConversionRequest_CustomerId{CustomerId: leads[len(leads)-1].ID}})
		if err != nil {
			t.Fatal(err)
		}
		if lc.GetProbability() != 0 || lc.GetBand() != conversionv1.ConversionBand_CONVERSION_BAND_UNSPECIFIED ||
			lc.GetModel().GetLastAttempt().GetConverted() != a.GetConverted() {
			t.Errorf("%s: lead %v", tr, lc)
		}
	}
	// A sales key may read but not train.
	_, err := e.conversionClient(viaConnect, "").TrainConversionModel(ctx, &conversionv1.TrainConversionModelRequest{})
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("without a key: %v", err)
	}
}

func converted(ls []conversiontest.Lead) conversiontest.Lead {
	for _, l := range ls {
		if l.Converted {
			return l
		}
	}
	panic("no converted lead")
}

func tenantOf(t *testing.T, e *env) string {
	t.Helper()
	tn, err := e.svc.Store().FindTenant(t.Context(), domain.DefaultTenantName)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}
