package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
	"github.com/potentialhq/potential/store/memory"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// stores lists the stores every server test runs on.
func stores() []struct {
	name string
	open func(t *testing.T) domain.Store
} {
	return []struct {
		name string
		open func(t *testing.T) domain.Store
	}{
		{"memory", func(t *testing.T) domain.Store { return memory.New() }},
		{"postgres", func(t *testing.T) domain.Store {
			url := pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
			s, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s
		}},
	}
}

// forEach runs body for every store × transport pair, each on a fresh server.
func forEach(t *testing.T, body func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient)) {
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tr := range transports {
				t.Run(string(tr), func(t *testing.T) {
					e := start(t, st.open(t))
					body(t, e, e.client(tr, adminKey))
				})
			}
		})
	}
}

func TestCustomerLifecycle(t *testing.T) {
	forEach(t, func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		created, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{
			ExternalId: "crm-1", GivenName: "Ada", FamilyName: "Lovelace", Email: "Ada@Example.com", Country: "pl",
			Communication: &customerv1.CommunicationPreferences{AcceptedChannels: []customerv1.Channel{customerv1.Channel_CHANNEL_SMS, customerv1.Channel_CHANNEL_EMAIL}},
			Attributes:    map[string]*customerv1.AttributeValue{"vip": {Kind: &customerv1.AttributeValue_BoolValue{BoolValue: true}}},
			Qualification: &customerv1.Qualification{Budget: "25000", Authority: customerv1.Authority_AUTHORITY_DECISION_MAKER},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if created.GetId() == "" || created.GetDisplayName() != "Ada Lovelace" || created.GetEmail() != "ada@example.com" || created.GetCountry() != "PL" || created.GetEtag() == "" {
			t.Fatalf("created = %v", created)
		}
		if got := created.GetQualification().GetBudget(); got != "25000.00" {
			t.Errorf("budget = %q, want 25000.00", got)
		}
		_, err = c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "crm-1"}})
		wantCode(t, err, connect.CodeAlreadyExists)

		byExt, err := c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "crm-1"}})
		if err != nil || byExt.GetId() != created.GetId() {
			t.Fatalf("get by external id = %v, %v", byExt, err)
		}

		// Update one field with the current etag; the others stay.
		upd, err := c.UpdateCustomer(ctx, &customerv1.UpdateCustomerRequest{
			Customer:   &customerv1.Customer{Id: created.GetId(), Etag: created.GetEtag(), City: "Kraków", Email: "ignored@example.com"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.GetCity() != "Kraków" || upd.GetEmail() != "ada@example.com" || upd.GetEtag() == created.GetEtag() || len(upd.GetAttributes()) != 1 {
			t.Fatalf("updated = %v", upd)
		}
		// The old etag is stale now.
		_, err = c.UpdateCustomer(ctx, &customerv1.UpdateCustomerRequest{
			Customer:   &customerv1.Customer{Id: created.GetId(), Etag: created.GetEtag(), City: "Gdańsk"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}},
		})
		wantCode(t, err, connect.CodeAborted)
		_, err = c.UpdateCustomer(ctx, &customerv1.UpdateCustomerRequest{
			Customer:   &customerv1.Customer{Id: created.GetId()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"purchases"}},
		})
		wantField(t, err, "update_mask")

		// Transactions, resent: aggregates unchanged by the resend.
		batch := &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{
			txn("o-1", "crm-1", "100.00", "2024-01-01T10:00:00Z"),
			txn("o-2", "crm-1", "50.50", "2024-01-01T18:00:00Z"),
			txn("o-3", "crm-1", "20", "2024-02-01T09:00:00Z"),
		}}
		res, err := c.RecordTransactions(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if res.GetCreatedCount() != 3 || res.GetAlreadyKnownCount() != 0 {
			t.Fatalf("first send = %v", res)
		}
		before, _ := c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: created.GetId()}})
		res, err = c.RecordTransactions(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if res.GetCreatedCount() != 0 || res.GetAlreadyKnownCount() != 3 {
			t.Fatalf("resend = %v", res)
		}
		after, _ := c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: created.GetId()}})
		p := after.GetPurchases()
		if p.GetPurchaseDays() != 2 || p.GetOrders() != 3 || p.GetTotalSpend() != "170.50" || p.GetRepeatSpend() != "20.00" {
			t.Fatalf("purchases = %v", p)
		}
		if fmt.Sprint(before.GetPurchases()) != fmt.Sprint(p) {
			t.Fatalf("resend changed aggregates: %v -> %v", before.GetPurchases(), p)
		}

		// List: filter, order and paging.
		for i := range 5 {
			if _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: fmt.Sprintf("x-%d", i), Country: "DE"}}); err != nil {
				t.Fatal(err)
			}
		}
		var seen []string
		token := ""
		for {
			page, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: `country = "DE"`, OrderBy: "external_id desc", PageSize: 2, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, cu := range page.GetCustomers() {
				seen = append(seen, cu.GetExternalId())
			}
			if token = page.GetNextPageToken(); token == "" {
				break
			}
		}
		if fmt.Sprint(seen) != "[x-4 x-3 x-2 x-1 x-0]" {
			t.Fatalf("paged list = %v", seen)
		}
		top, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: "total_spend > 100", OrderBy: "total_spend desc"})
		if err != nil || len(top.GetCustomers()) != 1 || top.GetCustomers()[0].GetId() != created.GetId() {
			t.Fatalf("spend filter = %v, %v", top, err)
		}

		// Delete erases, and a stale etag is refused first.
		_, err = c.DeleteCustomer(ctx, &customerv1.DeleteCustomerRequest{Id: created.GetId(), Etag: created.GetEtag()})
		wantCode(t, err, connect.CodeAborted)
		if _, err := c.DeleteCustomer(ctx, &customerv1.DeleteCustomerRequest{Id: created.GetId()}); err != nil {
			t.Fatal(err)
		}
		_, err = c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: created.GetId()}})
		wantCode(t, err, connect.CodeNotFound)
	})
}

func TestBatchUpsertIsIdempotent(t *testing.T) {
	forEach(t, func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		req := &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{
			{ExternalId: "a", DisplayName: "A"}, {ExternalId: "b", DisplayName: "B"},
		}}
		r1, err := c.BatchUpsertCustomers(ctx, req)
		if err != nil || r1.GetCreatedCount() != 2 {
			t.Fatalf("first = %v, %v", r1, err)
		}
		r2, err := c.BatchUpsertCustomers(ctx, req)
		if err != nil || r2.GetUnchangedCount() != 2 || r2.GetCustomers()[0].GetEtag() != r1.GetCustomers()[0].GetEtag() {
			t.Fatalf("resend = %v, %v", r2, err)
		}
		req.Customers[1].DisplayName = "B2"
		r3, err := c.BatchUpsertCustomers(ctx, req)
		if err != nil || r3.GetUpdatedCount() != 1 || r3.GetUnchangedCount() != 1 {
			t.Fatalf("change = %v, %v", r3, err)
		}
	})
}

// count returns how many customers the tenant has.
func count(t *testing.T, c customerv1connect.CustomerServiceClient) int {
	t.Helper()
	page, err := c.ListCustomers(t.Context(), &customerv1.ListCustomersRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.GetCustomers())
}

func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	forEach(t, func(t *testing.T, e *env, c customerv1connect.CustomerServiceClient) {
		ctx := t.Context()
		if _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "known"}}); err != nil {
			t.Fatal(err)
		}
		oversized := &customerv1.RecordTransactionsRequest{}
		for i := range domain.MaxBatch + 1 {
			oversized.Transactions = append(oversized.Transactions, txn(fmt.Sprintf("t%d", i), "known", "1", "2024-01-01T00:00:00Z"))
		}
		missingTime := txn("t-x", "known", "1", "2024-01-01T00:00:00Z")
		missingTime.OccurredAt = nil
		cases := []struct {
			name  string
			call  func() error
			field string
		}{
			{"missing customer", func() error { _, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{}); return err }, "customer"},
			{"malformed email", func() error {
				_, err := c.CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "e", Email: "not-an-email"}})
				return err
			}, "customer.email"},
			{"negative page size", func() error {
				_, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{PageSize: -1})
				return err
			}, "page_size"},
			{"unknown filter field", func() error {
				_, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{Filter: `shoe_size = 42`})
				return err
			}, "filter"},
			{"unknown order field", func() error {
				_, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{OrderBy: "shoe_size"})
				return err
			}, "order_by"},
			{"foreign page token", func() error {
				_, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{PageToken: "bm9wZQ"})
				return err
			}, "page_token"},
			{"oversized batch", func() error { _, err := c.RecordTransactions(ctx, oversized); return err }, "transactions"},
			{"missing occurred_at", func() error {
				_, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{txn("ok", "known", "1", "2024-01-01T00:00:00Z"), missingTime}})
				return err
			}, "transactions[1].occurred_at"},
			{"bad amount", func() error {
				_, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{txn("ok", "known", "-5", "2024-01-01T00:00:00Z")}})
				return err
			}, "transactions[0].amount"},
			{"unknown customer", func() error {
				_, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: []*customerv1.Transaction{txn("ok", "known", "1", "2024-01-01T00:00:00Z"), txn("ok2", "nobody", "1", "2024-01-01T00:00:00Z")}})
				return err
			}, "transactions[1].customer"},
			{"duplicate upsert ids", func() error {
				_, err := c.BatchUpsertCustomers(ctx, &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{{ExternalId: "d"}, {ExternalId: "d"}}})
				return err
			}, "customers[1].external_id"},
		}
		for _, tc := range cases {
			wantFieldNamed(t, tc.name, tc.call(), tc.field)
		}
		if n := count(t, c); n != 1 {
			t.Fatalf("bad input wrote: %d customers, want 1", n)
		}
		known, err := c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: "known"}})
		if err != nil || known.GetPurchases().GetOrders() != 0 {
			t.Fatalf("bad batches recorded transactions: %v, %v", known.GetPurchases(), err)
		}
	})
}

func wantFieldNamed(t *testing.T, name string, err error, field string) {
	t.Helper()
	t.Run(name, func(t *testing.T) { wantField(t, err, field) })
}

// TestMalformedJSON posts broken and mistyped JSON with Connect's protocol.
func TestMalformedJSON(t *testing.T) {
	e := start(t, memory.New())
	for _, body := range []string{`{"customer": {`, `{"customer": {"externalId": 5}}`, `{"nosuchfield": 1}`} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.httpURL+"/potential.customer.v1.CustomerService/CreateCustomer", bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct{ Code, Message string }
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Code != "invalid_argument" {
			t.Errorf("%s: status %d body %s", body, resp.StatusCode, b)
		}
	}
	if n := count(t, e.client(viaConnect, adminKey)); n != 0 {
		t.Fatalf("malformed JSON wrote %d customers", n)
	}
}
