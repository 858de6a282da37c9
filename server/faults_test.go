package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

// TestNothingLostOrCountedTwiceUnderDatabaseFaults sends 10,000 transactions
// from 8 concurrent clients (half on each port) that retry every failed batch
// and resend 30 % of their batches after success, while an in-process proxy
// in front of PostgreSQL cuts every database connection twice and adds
// latency once. Afterwards every customer's order count, spend and last
// purchase equal those computed from the distinct transactions.
func TestNothingLostOrCountedTwiceUnderDatabaseFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped with -short")
	}
	const (
		nTxns     = 10000
		nCust     = 200
		batchSize = 50
		nClients  = 8
	)
	dbURL, proxy := faultProxy(t, pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate))
	store, err := postgres.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	svc := domain.NewService(store, nil)
	tn, _, err := svc.Bootstrap(t.Context(), adminKey)
	if err != nil {
		t.Fatal(err)
	}
	// A scoring rule, so that every recorded order also lands in the
	// points ledger (points that expire after 90 days).
	admin := domain.WithPrincipal(t.Context(), domain.Principal{TenantID: tn.ID, KeyID: "faults", Role: domain.RoleAdmin})
	model, err := svc.CreateScoringModel(admin, domain.ScoringModel{Name: "engagement"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateScoringRule(admin, domain.ScoringRule{ModelID: model.ID, Name: "orders", EventKind: domain.EventKindOrder,
		Points: 10, HasValidity: true, Validity: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(svc, server.Options{Logger: slog.New(slog.DiscardHandler)}) // many expected Unavailable warnings
	if err != nil {
		t.Fatal(err)
	}
	e := serveOn(t, srv)

	// The transactions, and what each customer's aggregates must become.
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type want struct {
		orders int64
		spend  *big.Rat
		last   time.Time
		txns   []string // external ids
	}
	wants := map[string]*want{}
	var batches []*customerv1.RecordTransactionsRequest
	for i := 0; i < nTxns; i += batchSize {
		b := &customerv1.RecordTransactionsRequest{CreateMissingCustomers: true}
		for j := i; j < i+batchSize; j++ {
			cust := fmt.Sprintf("c-%03d", j%nCust)
			amount := fmt.Sprintf("%d.%02d", 1+j%97, j%100)
			at := base.Add(time.Duration(j) * time.Minute)
			b.Transactions = append(b.Transactions, &customerv1.Transaction{
				ExternalId: fmt.Sprintf("t-%05d", j),
				Customer:   &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: cust}},
				Kind:       customerv1.TransactionKind_TRANSACTION_KIND_ORDER,
				Amount:     amount,
				OccurredAt: timestamppb.New(at),
			})
			w := wants[cust]
			if w == nil {
				w = &want{spend: new(big.Rat)}
				wants[cust] = w
			}
			r, _ := new(big.Rat).SetString(amount)
			w.orders++
			w.txns = append(w.txns, fmt.Sprintf("t-%05d", j))
			w.spend.Add(w.spend, r)
			if at.After(w.last) {
				w.last = at
			}
		}
		batches = append(batches, b)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var done, failures atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for c := range nClients {
		tr := viaGRPC
		if c%2 == 1 {
			tr = viaConnect
		}
		client := e.client(tr, adminKey)
		wg.Go(func() {
			send := func(b *customerv1.RecordTransactionsRequest) {
				for ctx.Err() == nil {
					cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
					_, err := client.RecordTransactions(cctx, b)
					ccancel()
					if err == nil {
						return
					}
					failures.Add(1)
					time.Sleep(20 * time.Millisecond)
				}
			}
			for i := range work {
				send(batches[i])
				if i%10 < 3 { // 30 % deliberately resent
					send(batches[i])
				}
				done.Add(1)
			}
		})
	}

	// The faults, at fixed points of progress.
	faults := make(chan error, 1)
	go func() {
		waitDone := func(n int64) {
			for done.Load() < n && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
		}
		cut := func() {
			proxy.Stop() // closes every connection and refuses new ones
			time.Sleep(300 * time.Millisecond)
			if err := proxy.Start(); err != nil {
				faults <- err
			}
		}
		waitDone(int64(len(batches)) / 5)
		cut()
		waitDone(int64(len(batches)) * 2 / 5)
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(`{"name":"slow","type":"latency","stream":"downstream","attributes":{"latency":40,"jitter":20}}`)); err != nil {
			faults <- err
			return
		}
		time.Sleep(time.Second)
		if err := proxy.Toxics.RemoveToxic(context.Background(), "slow"); err != nil {
			faults <- err
			return
		}
		waitDone(int64(len(batches)) * 3 / 5)
		cut()
		faults <- nil
	}()
	for i := range batches {
		work <- i
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("clients did not finish: %d of %d batches done", done.Load(), len(batches))
	}
	if err := <-faults; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d failed calls retried", failures.Load())
	if failures.Load() == 0 {
		t.Error("no call failed: the faults never reached the clients")
	}

	c := e.client(viaGRPC, adminKey)
	for cust, w := range wants {
		got, err := c.GetCustomer(t.Context(), &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: cust}})
		if err != nil {
			t.Fatalf("%s: %v", cust, err)
		}
		p := got.GetPurchases()
		spend, ok := new(big.Rat).SetString(p.GetTotalSpend())
		if !ok || p.GetOrders() != w.orders || spend.Cmp(w.spend) != 0 || !p.GetLastPurchaseTime().AsTime().Equal(w.last) {
			t.Errorf("%s: orders %d, spend %s, last %v; want %d, %s, %v", cust, p.GetOrders(), p.GetTotalSpend(),
				p.GetLastPurchaseTime().AsTime(), w.orders, w.spend.FloatString(2), w.last)
		}
	}
	// Each customer's ledger: one entry per distinct transaction, none twice.
	ledgers := map[string][]string{}
	err = store.ReadScoring(t.Context(), tn.ID, domain.ScoringQuery{All: true}, func(b *domain.ScoringBatch) error {
		for _, in := range b.Customers {
			for _, e := range in.Ledger {
				ledgers[in.Customer.ExternalID] = append(ledgers[in.Customer.ExternalID], e.EventRef)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for cust, w := range wants {
		got := slices.Sorted(slices.Values(ledgers[cust]))
		if !slices.Equal(got, w.txns) {
			t.Errorf("%s: ledger has %d entries %v, want one per transaction: %v", cust, len(got), got, w.txns)
		}
	}
}
