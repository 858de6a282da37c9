package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/store/pgtest"
	"github.com/potentialhq/potential/store/postgres"
)

const durabilityKey = "pk_test_0123456789abcdef"

// loadResult is what a load run saw: the batches acknowledged, and the codes
// of the calls that failed.
type loadResult struct {
	mu    sync.Mutex
	acked []*customerv1.RecordTransactionsRequest
	codes map[codes.Code]int
}

// load sends batches of new transactions from 4 clients to grpcAddr until
// stop is closed or a client's call fails; every call has a 20 s deadline,
// so a hanging call shows up as DeadlineExceeded.
func load(tb testing.TB, grpcAddr string, stop <-chan struct{}, res *loadResult) *sync.WaitGroup {
	tb.Helper()
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	c := customerv1.NewCustomerServiceClient(conn)
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				b := &customerv1.RecordTransactionsRequest{CreateMissingCustomers: true}
				for i := range 20 {
					b.Transactions = append(b.Transactions, &customerv1.Transaction{
						ExternalId: fmt.Sprintf("t-%d-%d", n, i),
						Customer:   &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: fmt.Sprintf("c-%d", (int(n)+i)%50)}},
						Kind:       customerv1.TransactionKind_TRANSACTION_KIND_ORDER,
						Amount:     "10.00",
						OccurredAt: timestamppb.New(time.Date(2025, 1, 1, 0, int(n)%60, i, 0, time.UTC)),
					})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+durabilityKey)
				_, err := c.RecordTransactions(ctx, b, grpc.WaitForReady(false))
				cancel()
				res.mu.Lock()
				if err == nil {
					res.acked = append(res.acked, b)
				} else {
					res.codes[status.Code(err)]++
				}
				res.mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	return &wg
}

// verifyAcked restarts the binary on the same database and resends every
// acknowledged batch: each of its transactions must already be known.
func verifyAcked(t *testing.T, bin, dbURL string, res *loadResult) {
	t.Helper()
	_, grpcAddr, _, _ := startBinary(t, bin, []string{"POTENTIAL_BOOTSTRAP_KEY=" + durabilityKey}, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--database-url", dbURL)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := customerv1.NewCustomerServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+durabilityKey)
	if len(res.acked) == 0 {
		t.Fatal("no batch was acknowledged before the signal")
	}
	for _, b := range res.acked {
		r, err := c.RecordTransactions(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetCreatedCount() != 0 || r.GetAlreadyKnownCount() != int32(len(b.Transactions)) {
			t.Fatalf("acknowledged batch %s… lost: resend created %d, already known %d", b.Transactions[0].ExternalId, r.GetCreatedCount(), r.GetAlreadyKnownCount())
		}
	}
	t.Logf("%d acknowledged batches all present; failed calls by code: %v", len(res.acked), res.codes)
}

// runUnderLoad starts the binary on a fresh database, loads it for a while,
// sends sig, and returns what the clients saw once they stopped.
func runUnderLoad(t *testing.T, sig syscall.Signal) (bin, dbURL string, res *loadResult, exitErr error) {
	dbURL = pgtest.NewDatabase(t, postgres.MigrationsHash(), postgres.Migrate)
	bin = buildBinary(t)
	cmd, grpcAddr, _, _ := startBinary(t, bin, []string{"POTENTIAL_BOOTSTRAP_KEY=" + durabilityKey}, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--database-url", dbURL)
	res = &loadResult{codes: map[codes.Code]int{}}
	stop := make(chan struct{})
	wg := load(t, grpcAddr, stop, res)
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case exitErr = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not exit within 30 s of the signal")
	}
	close(stop)
	wg.Wait()
	return bin, dbURL, res, exitErr
}

// TestSIGTERMUnderLoadLosesNothing: SIGTERM while 4 clients ingest. The
// server exits 0; every call either got a response, and then its
// transactions are durable, or failed with Unavailable; none hung.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	bin, dbURL, res, exitErr := runUnderLoad(t, syscall.SIGTERM)
	if exitErr != nil {
		t.Fatalf("exit after SIGTERM: %v", exitErr)
	}
	for code, n := range res.codes {
		if code != codes.Unavailable {
			t.Errorf("%d calls failed with %v, want only Unavailable", n, code)
		}
	}
	verifyAcked(t, bin, dbURL, res)
}

// TestSIGKILLLosesNothingAcknowledged: SIGKILL while 4 clients ingest, then
// a restart: every transaction acknowledged before the kill is present.
func TestSIGKILLLosesNothingAcknowledged(t *testing.T) {
	bin, dbURL, res, _ := runUnderLoad(t, syscall.SIGKILL)
	verifyAcked(t, bin, dbURL, res)
}
