package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/client"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
)

const (
	recordTransactions = "/" + customerv1connect.CustomerServiceName + "/RecordTransactions"
	createCustomer     = "/" + customerv1connect.CustomerServiceName + "/CreateCustomer"
	listCustomers      = "/" + customerv1connect.CustomerServiceName + "/ListCustomers"
)

func newCustomer(tb testing.TB, c *client.Client, ext string) *customerv1.CustomerRef {
	tb.Helper()
	if _, err := c.Customers.CreateCustomer(tb.Context(), &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: ext}}); err != nil {
		tb.Fatal(err)
	}
	return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: ext}}
}

func orders(ref *customerv1.CustomerRef, prefix string) *customerv1.RecordTransactionsRequest {
	at := timestamppb.New(time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC))
	return &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
		{ExternalId: prefix + "-1", Customer: ref, Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "10.50", OccurredAt: at},
		{ExternalId: prefix + "-2", Customer: ref, Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "4.50", OccurredAt: at},
	}}
}

// TestRetryAfterALostAnswer: the service records the orders but its answer
// is lost; the client sends the same request again, and the orders are
// counted once.
func TestRetryAfterALostAnswer(t *testing.T) {
	c := client.New(baseURL, apiKey, client.WithRetry(3, time.Millisecond))
	ref := newCustomer(t, c, "retry-lost")
	flaky.set(t, recordTransactions, 1, true)
	res, err := c.Customers.RecordTransactions(t.Context(), orders(ref, "retry-lost"))
	if err != nil {
		t.Fatal(err)
	}
	if n := flaky.count(recordTransactions); n != 2 {
		t.Errorf("RecordTransactions reached the server %d times, want 2", n)
	}
	if res.GetCreatedCount() != 0 || res.GetAlreadyKnownCount() != 2 {
		t.Errorf("retry answered created %d, already known %d; want 0, 2", res.GetCreatedCount(), res.GetAlreadyKnownCount())
	}
	got, err := c.Customers.GetCustomer(t.Context(), &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "retry-lost"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.GetPurchases(); p.GetOrders() != 2 || p.GetTotalSpend() != "15.00" {
		t.Errorf("after the retry: %d orders, spend %s; want 2, 15.00", p.GetOrders(), p.GetTotalSpend())
	}
}

// TestRetryGivesUp: a service that stays unavailable gets the configured
// number of attempts, and the caller gets Unavailable.
func TestRetryGivesUp(t *testing.T) {
	c := client.New(baseURL, apiKey, client.WithRetry(3, time.Millisecond))
	flaky.set(t, listCustomers, 100, false)
	_, err := c.Customers.ListCustomers(t.Context(), &customerv1.ListCustomersRequest{})
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if n := flaky.count(listCustomers); n != 3 {
		t.Errorf("ListCustomers tried %d times, want 3", n)
	}
}

// TestNoRetryOfCallsWithSideEffects: CreateCustomer is not declared
// idempotent, so a lost answer is the caller's to resolve.
func TestNoRetryOfCallsWithSideEffects(t *testing.T) {
	c := client.New(baseURL, apiKey, client.WithRetry(3, time.Millisecond))
	flaky.set(t, createCustomer, 1, false)
	_, err := c.Customers.CreateCustomer(t.Context(), &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "no-retry"}})
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if n := flaky.count(createCustomer); n != 1 {
		t.Errorf("CreateCustomer tried %d times, want 1", n)
	}
}

// TestRetryStopsWithTheContext: no attempt outlives the caller's deadline.
func TestRetryStopsWithTheContext(t *testing.T) {
	c := client.New(baseURL, apiKey, client.WithRetry(50, 50*time.Millisecond))
	flaky.set(t, listCustomers, 1000, false)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Customers.ListCustomers(ctx, &customerv1.ListCustomersRequest{})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	if n := flaky.count(listCustomers); n >= 50 {
		t.Errorf("tried %d times within the deadline", n)
	}
}

// TestKeyAndProtocols: the key is sent over Connect and gRPC alike, and a
// wrong one is refused.
func TestKeyAndProtocols(t *testing.T) {
	for name, opts := range map[string][]client.Option{"connect": nil, "grpc": {client.WithGRPC()}} {
		t.Run(name, func(t *testing.T) {
			c := client.New(baseURL, apiKey, opts...)
			if _, err := c.Customers.ListCustomers(t.Context(), &customerv1.ListCustomersRequest{PageSize: 1}); err != nil {
				t.Fatal(err)
			}
			bad := client.New(baseURL, "pk_sdk_wrongwrongwrongwrong", opts...)
			_, err := bad.Customers.ListCustomers(t.Context(), &customerv1.ListCustomersRequest{PageSize: 1})
			if connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("wrong key: err = %v, want Unauthenticated", err)
			}
		})
	}
}

// TestAllCustomers: every page once, the caller's request unchanged, and
// breaking out of the loop stops the calls.
func TestAllCustomers(t *testing.T) {
	c := client.New(baseURL, apiKey)
	var batch []*customerv1.Customer
	for i := range 7 {
		batch = append(batch, &customerv1.Customer{ExternalId: fmt.Sprintf("all-%d", i), AcquisitionChannel: "all_test"})
	}
	if _, err := c.Customers.BatchUpsertCustomers(t.Context(), &customerv1.BatchUpsertCustomersRequest{Customers: batch}); err != nil {
		t.Fatal(err)
	}
	req := &customerv1.ListCustomersRequest{Filter: `acquisition_channel = "all_test"`, OrderBy: "external_id", PageSize: 3}
	flaky.set(t, listCustomers, 0, false)
	var got []string
	for cu, err := range c.AllCustomers(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cu.GetExternalId())
	}
	if fmt.Sprint(got) != "[all-0 all-1 all-2 all-3 all-4 all-5 all-6]" {
		t.Errorf("got %v", got)
	}
	if n := flaky.count(listCustomers); n != 3 {
		t.Errorf("%d ListCustomers calls for 7 customers in pages of 3, want 3", n)
	}
	if req.GetPageToken() != "" {
		t.Error("AllCustomers changed the caller's request")
	}

	flaky.set(t, listCustomers, 0, false)
	for range c.AllCustomers(t.Context(), req) {
		break
	}
	if n := flaky.count(listCustomers); n != 1 {
		t.Errorf("%d calls after breaking out on the first customer, want 1", n)
	}

	_, err := func() (*customerv1.Customer, error) {
		for cu, err := range c.AllCustomers(t.Context(), &customerv1.ListCustomersRequest{Filter: "no_such_field = 1"}) {
			return cu, err
		}
		return nil, nil
	}()
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("bad filter: err = %v, want InvalidArgument", err)
	}
}

// TestAllNeedsAListMethod: All refuses, at once, messages without the page
// token fields.
func TestAllNeedsAListMethod(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("All accepted a request without page_token")
		}
	}()
	c := client.New(baseURL, apiKey)
	client.All(t.Context(), &customerv1.GetCustomerRequest{}, c.Customers.GetCustomer, func(*customerv1.Customer) []int { return nil })
}
