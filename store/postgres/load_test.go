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
// loader (Load, in chunks of customers with their transactions), and
// checks that every customer ends with the same PurchaseStats and the same
// purchase days, and has its assessment row; that a load resent inserts
// nothing; that a new transaction of a known customer fails the load and
// leaves nothing; that each tenant loads its own; and that bad items are
// rejected naming the field.
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
	// The bulk load, in three chunks of customers, each with all their
	// transactions.
	byCust := map[string][]domain.Transaction{}
	for _, tx := range all {
		byCust[tx.CustomerID] = append(byCust[tx.CustomerID], tx)
	}
	load := func() (int64, int64) {
		t.Helper()
		var nc, nt int64
		for lo := 0; lo < customers; lo += 50 {
			chunk := cs[lo:min(lo+50, customers)]
			var txs []domain.Transaction
			for _, c := range chunk {
				for _, tx := range byCust[c.ID] {
					tx.ID, tx.TenantID = domain.NewID(), loaded
					txs = append(txs, tx)
				}
			}
			c, n, err := s.Load(ctx, loaded, chunk, txs)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			nc, nt = nc+c, nt+n
		}
		return nc, nt
	}
	if c, n := load(); c != customers || n != txs {
		t.Fatalf("Load created %d customers, %d transactions; want %d, %d", c, n, customers, txs)
	}
	// Resent: nothing new, and the statistics do not change.
	if c, n := load(); c != 0 || n != 0 {
		t.Fatalf("Load resent created %d customers, %d transactions; want 0", c, n)
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

	// The purchase days are those ingestion keeps.
	days := func(tenant string) string {
		t.Helper()
		if _, err := conn.Exec(ctx, "SELECT set_config('app.tenant_id', $1, false)", tenant); err != nil {
			t.Fatal(err)
		}
		var out string
		if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(c.external_id || ' ' || d.day || ' ' || d.amount || ' ' || d.orders, ',' ORDER BY c.external_id, d.day), '')
FROM purchase_days d JOIN customers c ON c.tenant_id = d.tenant_id AND c.id = d.customer_id WHERE d.tenant_id = $1`, tenant).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := days(loaded), days(recorded); got != want || want == "" {
		t.Errorf("purchase days of the loaded tenant differ from the recorded one's:\n%.300s\n%.300s", got, want)
	}

	// A new transaction of a customer the tenant has fails the call, and
	// nothing of it is stored: the new customer neither.
	fresh := domain.Customer{ID: domain.NewID(), ExternalID: "fresh", CreateTime: now}
	mixed := []domain.Transaction{
		{ID: domain.NewID(), ExternalID: "x1", CustomerID: cs[0].ID, Kind: domain.TxOrder, Amount: 10_000, OccurredAt: now},
		{ID: domain.NewID(), ExternalID: "x2", CustomerID: fresh.ID, Kind: domain.TxOrder, Amount: 10_000, OccurredAt: now},
	}
	if _, _, err := s.Load(ctx, loaded, []domain.Customer{cs[0], fresh}, mixed); !errors.Is(err, domain.ErrFailedPrecondition) {
		t.Fatalf("Load of a known customer's new transaction: %v, want ErrFailedPrecondition", err)
	}
	if _, err := s.GetCustomer(ctx, loaded, domain.CustomerRef{ID: fresh.ID}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the failed load's new customer: %v, want ErrNotFound", err)
	}
	// Without it, the new customer and its transaction go in.
	if c, n, err := s.Load(ctx, loaded, []domain.Customer{cs[0], fresh}, mixed[1:]); err != nil || c != 1 || n != 1 {
		t.Fatalf("Load after the failed call: %d, %d, %v; want 1, 1", c, n, err)
	}
	// Each tenant loads its own: the same customers and transactions go
	// into another tenant in full.
	if c, n, err := s.Load(ctx, other, []domain.Customer{fresh}, mixed[1:]); err != nil || c != 1 || n != 1 {
		t.Fatalf("Load into another tenant: %d, %d, %v; want 1, 1", c, n, err)
	}
	// Bad items are rejected before anything is sent, naming the field.
	var ie *domain.ItemError
	for _, tc := range []struct {
		name  string
		cs    []domain.Customer
		txs   []domain.Transaction
		field string
	}{
		{"bad kind", []domain.Customer{fresh}, []domain.Transaction{{ID: domain.NewID(), ExternalID: "y", CustomerID: fresh.ID, Kind: "gift", OccurredAt: now}}, "kind"},
		{"customer not in the load", []domain.Customer{fresh}, []domain.Transaction{{ID: domain.NewID(), ExternalID: "y", CustomerID: cs[0].ID, Kind: domain.TxOrder, OccurredAt: now}}, "customer_id"},
		{"bad customer id", []domain.Customer{{ID: "nope", ExternalID: "z"}}, nil, "id"},
		{"customer twice", []domain.Customer{fresh, {ID: domain.NewID(), ExternalID: "fresh"}}, nil, "external_id"},
		{"transaction twice", []domain.Customer{fresh}, []domain.Transaction{mixed[1], {ID: domain.NewID(), ExternalID: "x2", CustomerID: fresh.ID, Kind: domain.TxOrder, OccurredAt: now}}, "external_id"},
	} {
		if _, _, err := s.Load(ctx, loaded, tc.cs, tc.txs); !errors.As(err, &ie) || ie.Field != tc.field || !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Load with %s: %v, want an invalid argument on %s", tc.name, err, tc.field)
		}
	}
}
