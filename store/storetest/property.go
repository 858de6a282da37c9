package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

var propertyTests = []test{
	{"Property/RandomBatchesMatchRecomputation", func(t *testing.T, s domain.Store) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 7))
		tn := newTenant(t, s)
		customers := []string{"a", "b", "c", "d"}
		create(t, s, newCustomer(tn, "a")) // the others are created by the batches

		// A pool of transaction definitions: batches draw from it, so ids
		// repeat across batches (resends) and within them.
		var pool []domain.Transaction
		for i := range 80 {
			tx := order(fmt.Sprintf("t%03d", i), customers[rng.IntN(len(customers))], domain.Money(rng.IntN(10_000)),
				day(rng.IntN(30)-10, float64(rng.IntN(48))/2).Add(time.Duration(rng.IntN(1000))*time.Microsecond))
			switch rng.IntN(4) {
			case 0:
				tx.Kind = domain.TxRefund
			case 1:
				tx = withMargin(tx, domain.Money(rng.IntN(2000)-500))
			}
			pool = append(pool, tx)
		}
		recorded := map[string]domain.Transaction{} // by external id: the first one sent
		for i := range 30 {
			var batch []domain.Transaction
			for range 1 + rng.IntN(20) {
				batch = append(batch, pool[rng.IntN(len(pool))])
			}
			res, err := s.RecordTransactions(ctx(t), tn.ID, freshTxs(batch), domain.RecordOptions{CreateMissingCustomers: true, Now: t0})
			if err != nil {
				t.Fatalf("batch %d: %v", i, err)
			}
			created := 0
			for _, tx := range batch {
				if _, ok := recorded[tx.ExternalID]; !ok {
					recorded[tx.ExternalID] = tx
					created++
				}
			}
			if res.Created != created || res.AlreadyKnown != len(batch)-created {
				t.Fatalf("batch %d: result %+v, want %d created and %d known", i, res, created, len(batch)-created)
			}
			if i%5 == 4 || i == 29 {
				for _, ext := range customers {
					var mine []domain.Transaction
					for _, tx := range recorded {
						if tx.Customer.ExternalID == ext {
							mine = append(mine, tx)
						}
					}
					if len(mine) == 0 && ext != "a" {
						continue
					}
					wantPurchases(t, fmt.Sprintf("after batch %d", i), s, tn, ext, expectPurchases(mine))
				}
			}
		}
	}},
}
