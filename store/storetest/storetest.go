// Package storetest is the conformance suite of domain.Store: every store
// (store/memory, store/postgres) runs it and so behaves the same in every way
// a caller can observe — errors, ordering, paging, idempotent and atomic
// ingestion, tenant isolation, and purchase statistics equal to those
// computed from scratch from the distinct transactions.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// test is one behaviour, run on a fresh store.
type test struct {
	name string
	run  func(t *testing.T, s domain.Store)
}

// Run runs the suite, one subtest per behaviour, each in parallel on its own
// store from newStore (which should register the store's cleanup).
func Run(t *testing.T, newStore func(t *testing.T) domain.Store) {
	var all []test
	all = append(all, tenantTests...)
	all = append(all, keyTests...)
	all = append(all, customerTests...)
	all = append(all, isolationTests...)
	all = append(all, listTests...)
	all = append(all, listRelationTests...)
	all = append(all, upsertTests...)
	all = append(all, transactionTests...)
	all = append(all, engagementTests...)
	all = append(all, deleteTests...)
	all = append(all, propertyTests...)
	all = append(all, feedbackTests...)
	all = append(all, auditTests...)
	all = append(all, scoringTests...)
	all = append(all, assessTests...)
	all = append(all, assessListTests...)
	all = append(all, assessStatsTests...)
	all = append(all, assessRewriteTests...)
	all = append(all, jobTests...)
	all = append(all, resendTests...)
	all = append(all, conversionTests...)
	all = append(all, segmentTests...)
	all = append(all, actionTests...)
	all = append(all, requestTests...)
	all = append(all, webhookTests...)
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// t0 is the suite's reference time: a Friday morning, UTC.
var t0 = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// day returns t0's midnight plus n days plus h hours.
func day(n int, h float64) time.Time {
	return time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n).Add(time.Duration(h * float64(time.Hour)))
}

// newTenant creates a tenant with a unique name.
func newTenant(t *testing.T, s domain.Store) domain.Tenant {
	t.Helper()
	tn := domain.Tenant{ID: domain.NewID(), CreateTime: t0}
	tn.Name = "tenant-" + tn.ID
	if err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return tn
}

// newCustomer returns a customer of tenant with external id ext, ready to be
// created (Version 1, create and update time t0).
func newCustomer(tenant domain.Tenant, ext string) domain.Customer {
	return domain.Customer{
		ID: domain.NewID(), TenantID: tenant.ID, ExternalID: ext, Kind: domain.KindCustomer,
		DisplayName: "Customer " + ext, CreateTime: t0, UpdateTime: t0, Version: 1,
	}
}

// create stores c and returns the stored customer.
func create(t *testing.T, s domain.Store, c domain.Customer) domain.Customer {
	t.Helper()
	out, err := s.CreateCustomer(t.Context(), c)
	if err != nil {
		t.Fatalf("CreateCustomer(%q): %v", c.ExternalID, err)
	}
	return out
}

// get returns the stored customer id of tenant.
func get(t *testing.T, s domain.Store, tenant domain.Tenant, id string) domain.Customer {
	t.Helper()
	c, err := s.GetCustomer(t.Context(), tenant.ID, domain.CustomerRef{ID: id})
	if err != nil {
		t.Fatalf("GetCustomer(%s): %v", id, err)
	}
	return c
}

// order returns an order transaction of customer ext.
func order(ext, customer string, amount domain.Money, at time.Time) domain.Transaction {
	return domain.Transaction{ID: domain.NewID(), ExternalID: ext, Customer: domain.CustomerRef{ExternalID: customer}, Kind: domain.TxOrder, Amount: amount, OccurredAt: at}
}

// refund returns a refund transaction of customer ext.
func refund(ext, customer string, amount domain.Money, at time.Time) domain.Transaction {
	t := order(ext, customer, amount, at)
	t.Kind = domain.TxRefund
	return t
}

// withMargin sets a transaction's margin.
func withMargin(tx domain.Transaction, m domain.Money) domain.Transaction {
	tx.Margin, tx.HasMargin = m, true
	return tx
}

// fresh gives a batch new ids, as the service does for every call.
func fresh[T any](items []T, setID func(*T)) []T {
	out := make([]T, len(items))
	copy(out, items)
	for i := range out {
		setID(&out[i])
	}
	return out
}

func freshTxs(txs []domain.Transaction) []domain.Transaction {
	return fresh(txs, func(t *domain.Transaction) { t.ID = domain.NewID() })
}

// record records txs in tenant and returns the result.
func record(t *testing.T, s domain.Store, tenant domain.Tenant, txs ...domain.Transaction) domain.BatchResult {
	t.Helper()
	res, err := s.RecordTransactions(t.Context(), tenant.ID, freshTxs(txs), domain.RecordOptions{Now: t0})
	if err != nil {
		t.Fatalf("RecordTransactions: %v", err)
	}
	return res
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// wantItemErr fails unless err is an *ItemError for item index and field
// that wraps target.
func wantItemErr(t *testing.T, what string, err error, index int, field string, target error) {
	t.Helper()
	var ie *domain.ItemError
	if !errors.As(err, &ie) {
		t.Fatalf("%s: got error %v (%T), want an *ItemError", what, err, err)
	}
	if ie.Index != index || ie.Field != field || !errors.Is(err, target) {
		t.Fatalf("%s: got item error {%d %q %v}, want {%d %q %v}", what, ie.Index, ie.Field, ie.Err, index, field, target)
	}
}

// wantEqual fails unless got and want are deeply equal.
func wantEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// wantResult checks the counts of a BatchResult (CustomerIDs has tests of
// its own).
func wantResult(t *testing.T, what string, got domain.BatchResult, created, known, customers int) {
	t.Helper()
	if got.Created != created || got.AlreadyKnown != known || got.CreatedCustomers != customers {
		t.Fatalf("%s: got %d created, %d known, %d customers created; want %d, %d, %d",
			what, got.Created, got.AlreadyKnown, got.CreatedCustomers, created, known, customers)
	}
}

// ctx is shorthand for the test's context.
func ctx(t *testing.T) context.Context { return t.Context() }

// extIDs lists the external ids of customers, in order.
func extIDs(cs []domain.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ExternalID
	}
	return out
}

// describe renders a condition for test names and messages.
func describe(c domain.Condition) string { return fmt.Sprintf("%s %s %v", c.Field, c.Op, c.Value) }
