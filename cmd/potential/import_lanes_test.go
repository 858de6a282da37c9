package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// laneClient records transactions as a service would, and notes whether
// two calls in flight ever shared a customer, and each customer's rows in
// the order they arrived.
type laneClient struct {
	customerv1.CustomerServiceClient
	mu       sync.Mutex
	inFlight map[string]int // customer → the call holding it
	calls    int
	maxOpen  int
	open     int
	shared   []string
	order    map[string][]string // customer → the amounts of its rows, as received
}

func (c *laneClient) RecordTransactions(ctx context.Context, req *customerv1.RecordTransactionsRequest, _ ...grpc.CallOption) (*customerv1.RecordTransactionsResponse, error) {
	c.mu.Lock()
	c.calls++
	call := c.calls
	c.open++
	c.maxOpen = max(c.maxOpen, c.open)
	var held []string
	for _, tx := range req.GetTransactions() {
		cust := tx.GetCustomer().GetExternalId()
		if other, ok := c.inFlight[cust]; ok && other != call {
			c.shared = append(c.shared, fmt.Sprintf("%s in calls %d and %d", cust, other, call))
		}
		if _, ok := c.inFlight[cust]; !ok {
			c.inFlight[cust] = call
			held = append(held, cust)
		}
		c.order[cust] = append(c.order[cust], tx.GetAmount())
	}
	c.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // the call's work, while others are in flight
	c.mu.Lock()
	for _, cust := range held {
		delete(c.inFlight, cust)
	}
	c.open--
	c.mu.Unlock()
	return &customerv1.RecordTransactionsResponse{CreatedCount: int32(len(req.GetTransactions()))}, nil
}

func TestImportCallsInFlightShareNoCustomer(t *testing.T) {
	// 4,000 rows over 50 customers; a customer's rows have increasing
	// amounts, so their order on arrival shows whether it was kept.
	var csv strings.Builder
	csv.WriteString("customer_external_id,amount,occurred_at\n")
	next := map[string]int{}
	for i := range 4000 {
		cust := fmt.Sprintf("c%d", (i*7919)%50)
		next[cust]++
		fmt.Fprintf(&csv, "%s,%d,2024-01-02\n", cust, next[cust])
	}
	in, counter, err := openInput(strings.NewReader(csv.String()))
	if err != nil {
		t.Fatal(err)
	}
	rr, err := newCSVReader(in, counter, importTransactions, ',', nil, parseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client := &laneClient{inFlight: map[string]int{}, order: map[string][]string{}}
	im := &importer{client: client, kind: importTransactions, batch: 40, concurrency: 4}
	res, err := im.run(context.Background(), rr)
	if err != nil {
		t.Fatal(err)
	}
	if res.created != 4000 || res.read != 4000 {
		t.Fatalf("created %d of %d read, want 4000", res.created, res.read)
	}
	if len(client.shared) > 0 {
		t.Fatalf("calls in flight shared customers: %v", client.shared[:min(5, len(client.shared))])
	}
	if client.maxOpen < 2 {
		t.Fatalf("at most %d call in flight, want the import's concurrency", client.maxOpen)
	}
	for cust, amounts := range client.order {
		for i, a := range amounts {
			if a != fmt.Sprint(i+1) {
				t.Fatalf("customer %s: rows arrived as %v, want in file order", cust, amounts)
			}
		}
	}
}
