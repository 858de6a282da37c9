package storetest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// expectPurchases computes PurchaseStats from scratch from a customer's
// distinct transactions: the reference the stores' incremental statistics
// must equal.
func expectPurchases(txs []domain.Transaction) domain.PurchaseStats {
	var st domain.PurchaseStats
	perDay := map[string]domain.Money{}
	for _, t := range txs {
		if t.Kind == domain.TxRefund {
			st.Refunds++
			st.RefundTotal += t.Amount
			continue
		}
		st.Orders++
		st.TotalSpend += t.Amount
		if t.HasMargin {
			st.TotalMargin += t.Margin
		}
		at := t.OccurredAt.UTC().Truncate(time.Microsecond)
		perDay[at.Format(time.DateOnly)] += t.Amount
		if st.FirstPurchaseTime.IsZero() || at.Before(st.FirstPurchaseTime) {
			st.FirstPurchaseTime = at
		}
		if at.After(st.LastPurchaseTime) {
			st.LastPurchaseTime = at
		}
	}
	st.PurchaseDays = int64(len(perDay))
	st.FirstDaySpend = perDay[st.FirstPurchaseTime.Format(time.DateOnly)]
	st.MedianGapDays, st.LastGapDays = expectGaps(perDay)
	return st
}

// expectGaps returns the median and the last of the differences in days
// between consecutive purchase days (keys "YYYY-MM-DD"): the middle one of
// an odd count, the mean of the middle two of an even count.
func expectGaps(perDay map[string]domain.Money) (float64, int64) {
	var days []time.Time
	for d := range perDay {
		t, _ := time.Parse(time.DateOnly, d)
		days = append(days, t)
	}
	if len(days) < 2 {
		return 0, 0
	}
	slices.SortFunc(days, time.Time.Compare)
	var gaps []int64
	for i := 1; i < len(days); i++ {
		gaps = append(gaps, int64(days[i].Sub(days[i-1])/(24*time.Hour)))
	}
	last := gaps[len(gaps)-1]
	slices.Sort(gaps)
	n := len(gaps)
	if n%2 == 1 {
		return float64(gaps[n/2]), last
	}
	return float64(gaps[n/2-1]+gaps[n/2]) / 2, last
}

// wantPurchases fails unless the customer's statistics are want.
func wantPurchases(t *testing.T, what string, s domain.Store, tenant domain.Tenant, ext string, want domain.PurchaseStats) {
	t.Helper()
	c, err := s.GetCustomer(ctx(t), tenant.ID, domain.CustomerRef{ExternalID: ext})
	if err != nil {
		t.Fatalf("%s: GetCustomer(%q): %v", what, ext, err)
	}
	if c.Purchases != want {
		t.Fatalf("%s: customer %q:\n got %+v\nwant %+v", what, ext, c.Purchases, want)
	}
}

func listTxs(t *testing.T, s domain.Store, tenant domain.Tenant, customerID string) []domain.Transaction {
	t.Helper()
	txs, err := s.ListTransactions(ctx(t), tenant.ID, customerID)
	if err != nil {
		t.Fatalf("ListTransactions: %v", err)
	}
	return txs
}

var transactionTests = []test{
	{"Transactions/Aggregates", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "a"))
		res := record(t, s, tn,
			withMargin(order("o1", "a", 100, day(1, 10)), 30),
			order("o2", "a", 50, day(1, 15)),
			withMargin(order("o3", "a", 200, day(3, 9)), 80),
			withMargin(refund("r1", "a", 40, day(4, 0)), 5), // a refund's margin does not count
		)
		wantResult(t, "first batch", res, 4, 0, 0)
		wantPurchases(t, "first batch", s, tn, "a", domain.PurchaseStats{
			FirstPurchaseTime: day(1, 10), LastPurchaseTime: day(3, 9), PurchaseDays: 2, Orders: 3, Refunds: 1,
			TotalSpend: 350, FirstDaySpend: 150, RefundTotal: 40, TotalMargin: 110, MedianGapDays: 2, LastGapDays: 2,
		})
		// An order that arrives late, on an earlier day, becomes the first
		// purchase; the gaps are now 1 and 2 days (median 1.5), the last 2.
		record(t, s, tn, withMargin(order("o4", "a", 25, day(0, 23.5)), 5))
		wantPurchases(t, "late earlier order", s, tn, "a", domain.PurchaseStats{
			FirstPurchaseTime: day(0, 23.5), LastPurchaseTime: day(3, 9), PurchaseDays: 3, Orders: 4, Refunds: 1,
			TotalSpend: 375, FirstDaySpend: 25, RefundTotal: 40, TotalMargin: 115, MedianGapDays: 1.5, LastGapDays: 2,
		})
		// More orders on the first and the last day: no new days.
		record(t, s, tn, order("o5", "a", 5, day(0, 1)), order("o6", "a", 7, day(3, 20)))
		wantPurchases(t, "same-day orders", s, tn, "a", domain.PurchaseStats{
			FirstPurchaseTime: day(0, 1), LastPurchaseTime: day(3, 20), PurchaseDays: 3, Orders: 6, Refunds: 1,
			TotalSpend: 387, FirstDaySpend: 30, RefundTotal: 40, TotalMargin: 115, MedianGapDays: 1.5, LastGapDays: 2,
		})
		// A refund alone changes only the refund statistics.
		record(t, s, tn, refund("r2", "a", 10, day(-5, 0)))
		wantPurchases(t, "refund", s, tn, "a", domain.PurchaseStats{
			FirstPurchaseTime: day(0, 1), LastPurchaseTime: day(3, 20), PurchaseDays: 3, Orders: 6, Refunds: 2,
			TotalSpend: 387, FirstDaySpend: 30, RefundTotal: 50, TotalMargin: 115, MedianGapDays: 1.5, LastGapDays: 2,
		})
	}},
	{"Transactions/UTCDays", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		create(t, s, newCustomer(tn, "b"))
		cet := time.FixedZone("CET", 3600)
		record(t, s, tn,
			order("b1", "b", 10, time.Date(2024, 3, 1, 0, 30, 0, 0, cet)), // 2024-02-29 23:30 UTC
			order("b2", "b", 20, day(0, 0)),
			order("b3", "b", 30, time.Date(2024, 3, 2, 0, 30, 0, 0, cet)), // 2024-03-01 23:30 UTC
			order("b4", "b", 1, day(1, 0).Add(-time.Microsecond)),
		)
		wantPurchases(t, "days", s, tn, "b", domain.PurchaseStats{
			FirstPurchaseTime: day(-1, 23.5), LastPurchaseTime: day(1, 0).Add(-time.Microsecond), PurchaseDays: 2, Orders: 4,
			TotalSpend: 61, FirstDaySpend: 10, MedianGapDays: 1, LastGapDays: 1,
		})
	}},
	{"Transactions/ResendLeavesAggregatesUnchanged", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
		batch := []domain.Transaction{
			withMargin(order("o1", "a", 100, day(1, 10)), 30), order("o2", "a", 50, day(1, 15)),
			order("o3", "b", 70, day(2, 9)), refund("r1", "b", 20, day(3, 9)), order("o4", "b", 1, day(0, 9)),
		}
		wantResult(t, "first send", record(t, s, tn, batch...), 5, 0, 0)
		wantA, wantB := get(t, s, tn, a.ID), get(t, s, tn, b.ID)
		txsA, txsB := listTxs(t, s, tn, a.ID), listTxs(t, s, tn, b.ID)
		for i := range 3 {
			wantResult(t, fmt.Sprintf("resend %d", i), record(t, s, tn, batch...), 0, 5, 0)
			wantEqual(t, "a after resend", get(t, s, tn, a.ID), wantA)
			wantEqual(t, "b after resend", get(t, s, tn, b.ID), wantB)
			wantEqual(t, "a's transactions after resend", listTxs(t, s, tn, a.ID), txsA)
			wantEqual(t, "b's transactions after resend", listTxs(t, s, tn, b.ID), txsB)
		}
		// A batch of known and new transactions records only the new ones.
		res := record(t, s, tn, append(batch[:2:2], order("o5", "a", 5, day(9, 0)))...)
		wantResult(t, "partly known", res, 1, 2, 0)
		want := wantA.Purchases
		want.Orders, want.TotalSpend, want.PurchaseDays, want.LastPurchaseTime = 3, 155, 2, day(9, 0)
		want.MedianGapDays, want.LastGapDays = 8, 8
		wantPurchases(t, "partly known", s, tn, "a", want)
	}},
	{"Transactions/DuplicatesWithinBatch", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		// Repeats of an item are known; a repeat with another payload fails
		// the batch (see Resend/Transactions).
		res := record(t, s, tn, order("o1", "a", 100, day(1, 10)), order("o1", "a", 100, day(1, 10)), order("o2", "a", 10, day(1, 11)), order("o1", "a", 100, day(1, 10)))
		wantResult(t, "batch", res, 2, 2, 0)
		wantPurchases(t, "batch", s, tn, "a", domain.PurchaseStats{
			FirstPurchaseTime: day(1, 10), LastPurchaseTime: day(1, 11), PurchaseDays: 1, Orders: 2, TotalSpend: 110, FirstDaySpend: 110,
		})
		txs := listTxs(t, s, tn, a.ID)
		if len(txs) != 2 || txs[0].ExternalID != "o1" || txs[0].Amount != 100 {
			t.Fatalf("repeated items must be recorded once: %+v", txs)
		}
	}},
	{"Transactions/UnknownCustomerFailsBatch", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		unchanged := func(what string) {
			t.Helper()
			wantEqual(t, what+": customer", get(t, s, tn, a.ID), a)
			if txs := listTxs(t, s, tn, a.ID); len(txs) != 0 {
				t.Fatalf("%s: %d transactions recorded", what, len(txs))
			}
			list, _ := s.ListCustomers(ctx(t), tn.ID, domain.CustomerQuery{Limit: 10})
			if len(list) != 1 {
				t.Fatalf("%s: %d customers, want 1", what, len(list))
			}
		}
		batch := []domain.Transaction{order("o1", "a", 1, t0), order("o2", "ghost", 1, t0), order("o3", "a", 1, t0)}
		_, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{Now: t0})
		wantItemErr(t, "unknown external id", err, 1, "customer", domain.ErrNotFound)
		unchanged("unknown external id")
		byID := order("o4", "", 1, t0)
		byID.Customer = domain.CustomerRef{ID: domain.NewID()}
		malformed := order("o5", "", 1, t0)
		malformed.Customer = domain.CustomerRef{ID: "a"}
		for name, bad := range map[string]domain.Transaction{"unknown id": byID, "malformed id": malformed} {
			// Creating missing customers cannot help a reference by id; the
			// customer the batch would have created is not created either.
			_, err = s.RecordTransactions(ctx(t), tn.ID, freshTxs([]domain.Transaction{order("o1", "a", 1, t0), order("o2", "new", 1, t0), bad}), domain.RecordOptions{CreateMissingCustomers: true, Now: t0})
			wantItemErr(t, name, err, 2, "customer", domain.ErrNotFound)
			unchanged(name)
		}
		// An id and an external id that name two different customers name none.
		create(t, s, newCustomer(tn, "b"))
		both := order("o6", "b", 1, t0)
		both.Customer.ID = a.ID
		_, err = s.RecordTransactions(ctx(t), tn.ID, []domain.Transaction{both}, domain.RecordOptions{Now: t0})
		wantItemErr(t, "id of a, external id of b", err, 0, "customer", domain.ErrNotFound)
		// Recording into a tenant that does not exist finds no customer.
		_, err = s.RecordTransactions(ctx(t), domain.NewID(), freshTxs(batch[:1]), domain.RecordOptions{Now: t0})
		wantItemErr(t, "unknown tenant", err, 0, "customer", domain.ErrNotFound)
		_, err = s.RecordTransactions(ctx(t), domain.NewID(), freshTxs(batch[:1]), domain.RecordOptions{Now: t0, CreateMissingCustomers: true})
		wantErr(t, "unknown tenant, creating customers", err, domain.ErrNotFound)
	}},
	{"Transactions/CreateMissingCustomers", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		now := t0.Add(3 * time.Hour)
		batch := []domain.Transaction{order("o1", "n1", 10, day(1, 0)), order("o2", "n1", 5, day(2, 0)), order("o3", "a", 7, day(1, 0)), refund("r1", "n2", 3, day(1, 0))}
		res, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{CreateMissingCustomers: true, Now: now})
		if err != nil {
			t.Fatalf("RecordTransactions: %v", err)
		}
		wantResult(t, "first send", res, 4, 0, 2)
		n1, err := s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: "n1"})
		if err != nil {
			t.Fatalf("created customer: %v", err)
		}
		want := domain.Customer{ID: n1.ID, TenantID: tn.ID, ExternalID: "n1", Kind: domain.KindCustomer, CreateTime: now, UpdateTime: now, Version: 1,
			Purchases: domain.PurchaseStats{FirstPurchaseTime: day(1, 0), LastPurchaseTime: day(2, 0), PurchaseDays: 2, Orders: 2, TotalSpend: 15, FirstDaySpend: 10,
				MedianGapDays: 1, LastGapDays: 1}}
		wantEqual(t, "created customer", n1, want)
		wantPurchases(t, "refund-only customer", s, tn, "n2", domain.PurchaseStats{Refunds: 1, RefundTotal: 3})
		wantPurchases(t, "existing customer", s, tn, "a", domain.PurchaseStats{FirstPurchaseTime: day(1, 0), LastPurchaseTime: day(1, 0), PurchaseDays: 1, Orders: 1, TotalSpend: 7, FirstDaySpend: 7})
		if got := get(t, s, tn, a.ID); got.Version != 1 || !got.UpdateTime.Equal(a.UpdateTime) {
			t.Fatalf("recording changed the customer's version or update time: %+v", got)
		}
		res, err = s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{CreateMissingCustomers: true, Now: now})
		if err != nil {
			t.Fatalf("resend: %v", err)
		}
		wantResult(t, "resend", res, 0, 4, 0)
		wantEqual(t, "created customer after resend", get(t, s, tn, n1.ID), want)
	}},
	{"Transactions/Overflow", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		_, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs([]domain.Transaction{order("o1", "a", math.MaxInt64-10, day(0, 1)), order("o2", "a", 11, day(0, 2))}), domain.RecordOptions{})
		wantErr(t, "one batch, one day", err, domain.ErrInvalid)
		wantEqual(t, "after a failed batch", get(t, s, tn, a.ID), a)
		record(t, s, tn, order("o1", "a", math.MaxInt64-10, day(0, 1)))
		after := get(t, s, tn, a.ID)
		_, err = s.RecordTransactions(ctx(t), tn.ID, freshTxs([]domain.Transaction{order("o3", "a", 1, day(5, 0)), order("o2", "a", 11, day(3, 2))}), domain.RecordOptions{})
		wantErr(t, "second batch, other days", err, domain.ErrInvalid)
		wantEqual(t, "after a failed second batch", get(t, s, tn, a.ID), after)
		if txs := listTxs(t, s, tn, a.ID); len(txs) != 1 {
			t.Fatalf("%d transactions, want 1", len(txs))
		}
	}},
	{"Transactions/List", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a, b := create(t, s, newCustomer(tn, "a")), create(t, s, newCustomer(tn, "b"))
		o1 := withMargin(order("o1", "a", 100, day(2, 0)), -3)
		o1.Quantity = 4
		r1 := refund("r1", "a", 20, day(1, 0))
		r1.Margin = 99 // without HasMargin: not stored
		tie1, tie2 := order("t1", "a", 1, day(3, 0)), order("t2", "a", 2, day(3, 0))
		batch := []domain.Transaction{o1, tie2, r1, tie1, order("x1", "b", 1, day(0, 0))}
		if _, err := s.RecordTransactions(ctx(t), tn.ID, batch, domain.RecordOptions{}); err != nil {
			t.Fatalf("RecordTransactions: %v", err)
		}
		stored := func(tx domain.Transaction, c domain.Customer) domain.Transaction {
			tx.TenantID, tx.CustomerID, tx.Customer = tn.ID, c.ID, domain.CustomerRef{ID: c.ID}
			if !tx.HasMargin {
				tx.Margin = 0
			}
			return tx
		}
		ties := []domain.Transaction{stored(tie1, a), stored(tie2, a)}
		if ties[1].ID < ties[0].ID {
			ties[0], ties[1] = ties[1], ties[0]
		}
		wantEqual(t, "a's transactions", listTxs(t, s, tn, a.ID), []domain.Transaction{stored(r1, a), stored(o1, a), ties[0], ties[1]})
		wantEqual(t, "b's transactions", listTxs(t, s, tn, b.ID), []domain.Transaction{stored(batch[4], b)})
		if txs := listTxs(t, s, tn, domain.NewID()); len(txs) != 0 {
			t.Fatalf("transactions of an unknown customer: %v", txs)
		}
		if txs := listTxs(t, s, tn, "nope"); len(txs) != 0 {
			t.Fatalf("transactions of a malformed id: %v", txs)
		}
	}},
	{"Transactions/Unstorable", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		a := create(t, s, newCustomer(tn, "a"))
		bad := order("o\x00", "a", 1, t0)
		_, err := s.RecordTransactions(ctx(t), tn.ID, []domain.Transaction{order("o1", "a", 1, t0), bad}, domain.RecordOptions{})
		wantItemErr(t, "NUL in external id", err, 1, "external_id", domain.ErrInvalid)
		noID := order("o2", "a", 1, t0)
		noID.ID = ""
		_, err = s.RecordTransactions(ctx(t), tn.ID, []domain.Transaction{noID}, domain.RecordOptions{})
		wantItemErr(t, "no id", err, 0, "id", domain.ErrInvalid)
		badRef := order("o3", "\xff", 1, t0)
		_, err = s.RecordTransactions(ctx(t), tn.ID, []domain.Transaction{badRef}, domain.RecordOptions{CreateMissingCustomers: true})
		wantItemErr(t, "invalid UTF-8 in the customer's external id", err, 0, "customer.external_id", domain.ErrInvalid)
		wantEqual(t, "customer", get(t, s, tn, a.ID), a)
	}},
	{"Transactions/Concurrent", func(t *testing.T, s domain.Store) {
		tn := newTenant(t, s)
		customers := []string{"a", "b", "c"}
		for _, ext := range customers {
			create(t, s, newCustomer(tn, ext))
		}
		rng := rand.New(rand.NewPCG(3, 4))
		var pool []domain.Transaction
		for i := range 60 {
			tx := order(fmt.Sprintf("o%d", i), customers[rng.IntN(len(customers))], domain.Money(rng.IntN(1000)), day(rng.IntN(10), float64(rng.IntN(24))))
			if i%5 == 0 {
				tx.Kind = domain.TxRefund
			}
			pool = append(pool, tx)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 5))
				for range 8 {
					var batch []domain.Transaction
					for range 1 + r.IntN(25) {
						batch = append(batch, pool[r.IntN(len(pool))])
					}
					if _, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent RecordTransactions: %v", err)
		}
		for _, ext := range customers {
			c, _ := s.GetCustomer(ctx(t), tn.ID, domain.CustomerRef{ExternalID: ext})
			wantPurchases(t, "after concurrent batches", s, tn, ext, expectPurchases(listTxs(t, s, tn, c.ID)))
		}
	}},
}
