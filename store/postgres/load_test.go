package postgres_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// TestBulkLoad loads the same customers and transactions into two tenants,
// one through RecordTransactions batch by batch and one through the bulk
// loader (LoadCustomers, LoadTransactions in chunks, RebuildPurchaseStats),
// and checks that every customer ends with the same PurchaseStats; that a
// load resent inserts nothing; that an unknown customer fails the load and
// leaves nothing; and that a tenant's load stays in that tenant.
func TestBulkLoad(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t)
	s := open(t, url)
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	recorded, loaded, other := domain.NewID(), domain.NewID(), domain.NewID()
	for i, id := range []string{recorded, loaded, other} {
		if err := s.CreateTenant(ctx, domain.Tenant{ID: id, Name: fmt.Sprintf("t%d", i), CreateTime: now}); err != nil {
			t.Fatal(err)
		}
	}

	const customers, txs = 150, 2400
	rng := rand.New(rand.NewPCG(3, 4))
	cs := make([]domain.Customer, customers)
	for i := range cs {
		cs[i] = domain.Customer{ID: domain.NewID(), ExternalID: fmt.Sprintf("c%03d", i), Kind: domain.KindCustomer, CreateTime: now}
	}
	all := make([]domain.Transaction, txs)
	for i := range all {
		c := rng.IntN(customers - 10) // the last ten never buy
		if i < customers-10 {
			c = i
		}
		kind := domain.TxOrder
		if rng.IntN(10) == 0 {
			kind = domain.TxRefund
		}
		tx := domain.Transaction{
			ExternalID: fmt.Sprintf("t%05d", i), Kind: kind, Amount: domain.Money(1+rng.IntN(1000)) * 10_000, Quantity: 1,
			// Several orders on one day, days in any order, across two years.
			OccurredAt: now.Add(-time.Duration(rng.IntN(720))*24*time.Hour - time.Duration(rng.IntN(3))*time.Hour),
		}
		if rng.IntN(2) == 0 {
			tx.Margin, tx.HasMargin = tx.Amount/4, true
		}
		tx.Customer = domain.CustomerRef{ExternalID: cs[c].ExternalID}
		tx.CustomerID = cs[c].ID
		all[i] = tx
	}

	// The reference: the service's ingestion, batch by batch.
	for lo := 0; lo < txs; lo += 500 {
		batch := make([]domain.Transaction, 0, 500)
		for _, tx := range all[lo:min(lo+500, txs)] {
			tx.ID, tx.TenantID, tx.CustomerID = domain.NewID(), recorded, ""
			batch = append(batch, tx)
		}
		if _, err := s.RecordTransactions(ctx, recorded, batch, domain.RecordOptions{CreateMissingCustomers: true, Now: now}); err != nil {
			t.Fatalf("RecordTransactions: %v", err)
		}
	}
	// The bulk load, in three chunks.
	if n, err := s.LoadCustomers(ctx, loaded, cs); err != nil || n != customers {
		t.Fatalf("LoadCustomers: %d, %v; want %d", n, err, customers)
	}
	load := func() int64 {
		t.Helper()
		var total int64
		for lo := 0; lo < txs; lo += 1000 {
			chunk := make([]domain.Transaction, 0, 1000)
			for _, tx := range all[lo:min(lo+1000, txs)] {
				tx.ID, tx.TenantID = domain.NewID(), loaded
				chunk = append(chunk, tx)
			}
			n, err := s.LoadTransactions(ctx, loaded, chunk)
			if err != nil {
				t.Fatalf("LoadTransactions: %v", err)
			}
			total += n
		}
		return total
	}
	if n := load(); n != txs {
		t.Fatalf("LoadTransactions inserted %d, want %d", n, txs)
	}
	if n, err := s.RebuildPurchaseStats(ctx, loaded); err != nil || n != customers-10 {
		t.Fatalf("RebuildPurchaseStats: %d, %v; want %d customers", n, err, customers-10)
	}
	// Resent: nothing new, and the statistics do not change.
	if n, err := s.LoadCustomers(ctx, loaded, cs); err != nil || n != 0 {
		t.Fatalf("LoadCustomers resent: %d, %v; want 0", n, err)
	}
	if n := load(); n != 0 {
		t.Fatalf("LoadTransactions resent inserted %d, want 0", n)
	}
	if _, err := s.RebuildPurchaseStats(ctx, loaded); err != nil {
		t.Fatal(err)
	}

	buyers := 0
	for _, c := range cs {
		want, err := s.GetCustomer(ctx, recorded, domain.CustomerRef{ExternalID: c.ExternalID})
		if errors.Is(err, domain.ErrNotFound) {
			want = domain.Customer{} // never bought: recorded has no such customer
		} else if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetCustomer(ctx, loaded, domain.CustomerRef{ID: c.ID})
		if err != nil {
			t.Fatalf("GetCustomer %s: %v", c.ExternalID, err)
		}
		if got.Purchases != want.Purchases {
			t.Errorf("%s: loaded %+v\nrecorded %+v", c.ExternalID, got.Purchases, want.Purchases)
		}
		if got.Purchases.Orders > 0 {
			buyers++
		}
	}
	if buyers < customers-10 {
		t.Errorf("%d customers with orders, want at least %d", buyers, customers-10)
	}
	// Every loaded customer has its (empty) assessment row, as a created
	// one does.
	var rows int
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, "SELECT set_config('app.tenant_id', $1, false)", loaded); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM assessments WHERE tenant_id = $1", loaded).Scan(&rows); err != nil || rows != customers {
		t.Fatalf("assessments of the loaded tenant: %d, %v; want %d", rows, err, customers)
	}

	// An unknown customer fails the chunk; nothing of it is stored.
	bad := []domain.Transaction{
		{ID: domain.NewID(), ExternalID: "x1", CustomerID: cs[0].ID, Kind: domain.TxOrder, Amount: 10_000, OccurredAt: now},
		{ID: domain.NewID(), ExternalID: "x2", CustomerID: domain.NewID(), Kind: domain.TxOrder, Amount: 10_000, OccurredAt: now},
	}
	if _, err := s.LoadTransactions(ctx, loaded, bad); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("LoadTransactions with an unknown customer: %v, want ErrNotFound", err)
	}
	// Another tenant's customers are unknown too: row-level security and
	// the foreign key keep a load in its tenant.
	if _, err := s.LoadTransactions(ctx, other, bad[:1]); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("LoadTransactions into another tenant: %v, want ErrNotFound", err)
	}
	if n, err := s.LoadTransactions(ctx, loaded, bad[:1]); err != nil || n != 1 {
		t.Fatalf("LoadTransactions after the failed chunk: %d, %v; want 1 (x1 was not stored)", n, err)
	}
	// Bad items are rejected before anything is sent, naming the field.
	var ie *domain.ItemError
	if _, err := s.LoadTransactions(ctx, loaded, []domain.Transaction{{ID: domain.NewID(), ExternalID: "y", CustomerID: cs[0].ID, Kind: "gift", OccurredAt: now}}); !errors.As(err, &ie) || ie.Field != "kind" {
		t.Fatalf("LoadTransactions with a bad kind: %v, want an ItemError on kind", err)
	}
	if _, err := s.LoadCustomers(ctx, loaded, []domain.Customer{{ID: "nope", ExternalID: "z"}}); !errors.As(err, &ie) || ie.Field != "id" {
		t.Fatalf("LoadCustomers with a bad id: %v, want an ItemError on id", err)
	}
}
