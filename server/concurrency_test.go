package server_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// TestConcurrentUpdatesLoseNothing has many clients — half over grpc-go, half
// over Connect, each on its own goroutine — add attributes to one customer by
// read-modify-write of the whole attribute map with its etag, retrying on
// Aborted. Every client's every key must be in the final customer: a stale
// etag never overwrites a concurrent update.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	const clients, keysEach = 8, 6
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, st.open(t))
			ctx := t.Context()
			created, err := e.client(viaGRPC, adminKey).CreateCustomer(ctx, &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "shared"}})
			if err != nil {
				t.Fatal(err)
			}
			var (
				wg      sync.WaitGroup
				aborted atomic.Int64
			)
			for i := range clients {
				tr := viaGRPC
				if i%2 == 1 {
					tr = viaConnect
				}
				c := e.client(tr, adminKey)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range keysEach {
						key := fmt.Sprintf("c%d_k%d", i, k)
						for attempt := 0; ; attempt++ {
							if attempt == 1000 {
								t.Errorf("%s: gave up after 1000 attempts", key)
								return
							}
							cur, err := c.GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: created.GetId()}})
							if err != nil {
								t.Errorf("GetCustomer: %v", err)
								return
							}
							attrs := maps.Clone(cur.GetAttributes())
							if attrs == nil {
								attrs = map[string]*customerv1.AttributeValue{}
							}
							attrs[key] = &customerv1.AttributeValue{Kind: &customerv1.AttributeValue_NumberValue{NumberValue: float64(k)}}
							_, err = c.UpdateCustomer(ctx, &customerv1.UpdateCustomerRequest{
								Customer:   &customerv1.Customer{Id: cur.GetId(), Etag: cur.GetEtag(), Attributes: attrs},
								UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"attributes"}},
							})
							if ce := new(connect.Error); errors.As(err, &ce) && ce.Code() == connect.CodeAborted {
								aborted.Add(1)
								continue
							}
							if err != nil {
								t.Errorf("UpdateCustomer(%s): %v", key, err)
								return
							}
							break
						}
					}
				}()
			}
			wg.Wait()
			final, err := e.client(viaConnect, adminKey).GetCustomer(ctx, &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_Id{Id: created.GetId()}})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i := range clients {
				for k := range keysEach {
					want = append(want, fmt.Sprintf("c%d_k%d", i, k))
				}
			}
			slices.Sort(want)
			if got := slices.Sorted(maps.Keys(final.GetAttributes())); !slices.Equal(got, want) {
				t.Fatalf("final attributes = %v\nwant %v", got, want)
			}
			t.Logf("%d updates by %d clients, %d retried after Aborted", clients*keysEach, clients, aborted.Load())
		})
	}
}
