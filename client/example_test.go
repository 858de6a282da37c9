package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"google.golang.org/protobuf/proto"

	"github.com/potentialhq/potential/client"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
)

// A client sends the API key on every call. Recording the same orders
// again changes nothing: their external ids make it idempotent, which is
// also what lets the client retry such calls safely.
func ExampleNew() {
	ctx := context.Background()
	c := client.New(baseURL, apiKey) // e.g. "http://localhost:8080"

	_, err := c.Customers.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{
		ExternalId: "crm-42", GivenName: "Ada", FamilyName: "Lovelace", Country: "PL",
	}})
	if err != nil {
		log.Fatal(err)
	}
	ada := &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: "crm-42"}}
	orders := &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
		{ExternalId: "order-1", Customer: ada, Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "129.99",
			OccurredAt: timestamppb.New(time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC))},
		{ExternalId: "order-2", Customer: ada, Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "40",
			OccurredAt: timestamppb.New(time.Date(2026, 3, 2, 16, 30, 0, 0, time.UTC))},
	}}
	res, err := c.Customers.RecordTransactions(ctx, orders)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded:", res.GetCreatedCount())
	res, err = c.Customers.RecordTransactions(ctx, orders)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sent again, already known:", res.GetAlreadyKnownCount())

	got, err := c.Customers.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "crm-42"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.GetDisplayName(), "has spent", got.GetPurchases().GetTotalSpend(), "in", got.GetPurchases().GetOrders(), "orders")
	// Output:
	// recorded: 2
	// sent again, already known: 2
	// Ada Lovelace has spent 169.99 in 2 orders
}

// AllCustomers pages through a list: here five customers, two per call.
func ExampleClient_AllCustomers() {
	ctx := context.Background()
	c := client.New(baseURL, apiKey)

	var batch []*customerv1.Customer
	for i := 1; i <= 5; i++ {
		batch = append(batch, &customerv1.Customer{ExternalId: fmt.Sprintf("fair-%d", i), AcquisitionChannel: "trade_fair"})
	}
	if _, err := c.Customers.BatchUpsertCustomers(ctx, &customerv1.BatchUpsertCustomersRequest{Customers: batch}); err != nil {
		log.Fatal(err)
	}

	req := &customerv1.ListCustomersRequest{Filter: `acquisition_channel = "trade_fair"`, OrderBy: "external_id desc", PageSize: 2}
	for cu, err := range c.AllCustomers(ctx, req) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(cu.GetExternalId())
	}
	// Output:
	// fair-5
	// fair-4
	// fair-3
	// fair-2
	// fair-1
}

// All pages through any List method; here a customer's NPS answers,
// newest first, two per call.
func ExampleAll() {
	ctx := context.Background()
	c := client.New(baseURL, apiKey)

	if _, err := c.Customers.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "crm-77"}}); err != nil {
		log.Fatal(err)
	}
	who := &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: "crm-77"}}
	for i, score := range []int32{6, 8, 9, 10} {
		_, err := c.Feedback.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: &feedbackv1.Feedback{
			ExternalId: fmt.Sprintf("survey-%d", i), Customer: who, Kind: feedbackv1.FeedbackKind_FEEDBACK_KIND_NPS,
			Score: proto.Int32(score), OccurredAt: timestamppb.New(time.Date(2026, 5, 1+i, 9, 0, 0, 0, time.UTC)),
		}})
		if err != nil {
			log.Fatal(err)
		}
	}

	req := &feedbackv1.ListFeedbackRequest{Customer: who, PageSize: 2}
	for f, err := range client.All(ctx, req, c.Feedback.ListFeedback, (*feedbackv1.ListFeedbackResponse).GetFeedback) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(f.GetOccurredAt().AsTime().Format(time.DateOnly), f.GetScore())
	}
	// Output:
	// 2026-05-04 10
	// 2026-05-03 9
	// 2026-05-02 8
	// 2026-05-01 6
}
