package server_test

import (
	"errors"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
)

// wantIDReused fails unless err is InvalidArgument with a field violation of
// field and an ErrorInfo, both with reason REQUEST_ID_REUSED.
func wantIDReused(tb testing.TB, err error, field string) {
	tb.Helper()
	wantReasonDetail(tb, err, field, domain.ReasonRequestIDReused)
	var ce *connect.Error
	errors.As(err, &ce)
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok && info.GetReason() == domain.ReasonRequestIDReused && info.GetMetadata()["field"] == field {
				return
			}
		}
	}
	tb.Fatalf("no ErrorInfo with reason %s for %s: %v", domain.ReasonRequestIDReused, field, err)
}

// TestResentItemsWithAnotherPayload: a resent transaction, interaction or
// referral with the payload first sent returns the original outcome (known,
// nothing changes); the same external id with another payload is
// InvalidArgument with reason REQUEST_ID_REUSED, and the batch records
// nothing.
func TestResentItemsWithAnotherPayload(t *testing.T) {
	forEach(t, func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		ref := func(ext string) *customerv1.CustomerRef {
			return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: ext}}
		}
		tx := txn("o1", "ada", "120.50", "2026-01-05T10:00:00Z")
		first, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{tx}, CreateMissingCustomers: true})
		if err != nil || first.GetCreatedCount() != 1 {
			t.Fatalf("first send = %v, %v", first, err)
		}
		again, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{tx}, CreateMissingCustomers: true})
		if err != nil || again.GetCreatedCount() != 0 || again.GetAlreadyKnownCount() != 1 {
			t.Fatalf("resend = %v, %v", again, err)
		}
		changed := proto.Clone(tx).(*customerv1.Transaction)
		changed.Amount = "121.50"
		_, err = c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{txn("o2", "bob", "1", "2026-01-05T10:00:00Z"), changed}, CreateMissingCustomers: true})
		wantIDReused(t, err, "transactions[1].external_id")
		_, err = c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "bob"}})
		wantCode(t, err, connect.CodeNotFound)

		at := timestamppb.New(ts("2026-01-05T11:00:00Z"))
		it := &customerv1.Interaction{ExternalId: "i1", Customer: ref("ada"), Type: customerv1.InteractionType_INTERACTION_TYPE_CALL, OccurredAt: at}
		if _, err := c.RecordInteractions(ctx, &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{it, it}}); err != nil {
			t.Fatal(err)
		}
		itChanged := proto.Clone(it).(*customerv1.Interaction)
		itChanged.Type = customerv1.InteractionType_INTERACTION_TYPE_MEETING
		_, err = c.RecordInteractions(ctx, &customerv1.RecordInteractionsRequest{Interactions: []*customerv1.Interaction{itChanged}})
		wantIDReused(t, err, "interactions[0].external_id")

		if _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "cy"}}); err != nil {
			t.Fatal(err)
		}
		r := &customerv1.Referral{ExternalId: "r1", Referrer: ref("ada"), Referred: ref("cy"), OccurredAt: at}
		if _, err := c.RecordReferrals(ctx, &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{r}}); err != nil {
			t.Fatal(err)
		}
		res, err := c.RecordReferrals(ctx, &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{r}})
		if err != nil || res.GetAlreadyKnownCount() != 1 {
			t.Fatalf("referral resend = %v, %v", res, err)
		}
		rChanged := proto.Clone(r).(*customerv1.Referral)
		rChanged.Referrer, rChanged.Referred = ref("cy"), ref("ada")
		_, err = c.RecordReferrals(ctx, &customerv1.RecordReferralsRequest{Referrals: []*customerv1.Referral{rChanged}})
		wantIDReused(t, err, "referrals[0].external_id")
	})
}
