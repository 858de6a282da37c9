package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

const testKey = "pk_test_0123456789abcdef"

// testServer serves a fresh in-memory store on a loopback gRPC port.
func testServer(tb testing.TB) (addr string, conn *grpc.ClientConn) {
	tb.Helper()
	svc := domain.NewService(memory.New(), nil)
	if _, _, err := svc.Bootstrap(tb.Context(), testKey); err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(svc, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.GRPC().Serve(l)
	tb.Cleanup(srv.GRPC().Stop)
	conn, err = grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return l.Addr().String(), conn
}

func authed(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+testKey)
}

func writeFile(tb testing.TB, name string, data []byte) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// snapshot describes every customer's stored aggregates, sorted, so two
// stores can be compared.
func snapshot(tb testing.TB, conn *grpc.ClientConn) string {
	tb.Helper()
	c := customerv1.NewCustomerServiceClient(conn)
	var lines []string
	token := ""
	for {
		page, err := c.ListCustomers(authed(tb.Context()), &customerv1.ListCustomersRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			tb.Fatal(err)
		}
		for _, cu := range page.GetCustomers() {
			p := cu.GetPurchases()
			lines = append(lines, fmt.Sprintf("%s %d %d %s %s %s %s", cu.GetExternalId(), p.GetOrders(), p.GetPurchaseDays(), p.GetTotalSpend(), p.GetRepeatSpend(),
				p.GetFirstPurchaseTime().AsTime().Format(time.RFC3339), p.GetLastPurchaseTime().AsTime().Format(time.RFC3339)))
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func runCLI(tb testing.TB, args ...string) (int, string, string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	code := run(tb.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestImportRejectsExactlyTheBadRows imports a file in which 5 % of the rows
// are malformed in the ways CRM exports are: the rest is imported and the
// rejects file lists exactly the bad lines, with reasons.
func TestImportRejectsExactlyTheBadRows(t *testing.T) {
	addr, conn := testServer(t)
	c := customerv1.NewCustomerServiceClient(conn)
	if _, err := c.BatchUpsertCustomers(authed(t.Context()), &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{{ExternalId: "c1"}, {ExternalId: "c2"}, {ExternalId: "c3"}}}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("\uFEFFOrder ID;Customer;Total;When;Qty\n") // BOM, other header names, semicolons
	want := map[int]string{}
	good := 0
	for i := 1; i <= 400; i++ {
		line := i + 1
		row := fmt.Sprintf("o%d;c%d;%d,50;2024-03-%02d;%d\n", i, i%3+1, i, i%28+1, i%5)
		switch i % 20 {
		case 3:
			row, want[line] = fmt.Sprintf("o%d;c1;10,00;2024-13-45;1\n", i), "occurred_at"
		case 7:
			row, want[line] = fmt.Sprintf("o%d;c1;10,00;2024-03-01;-2\n", i), "quantity"
		case 11:
			row, want[line] = fmt.Sprintf("o%d;nobody;10,00;2024-03-01;1\n", i), "customer"
		case 13:
			row, want[line] = fmt.Sprintf("o%d;c1;10,00\n", i), "columns"
		case 17:
			row, want[line] = fmt.Sprintf("o%d;c\xff;10,00;2024-03-01;1\n", i), "UTF-8"
		default:
			good++
		}
		b.WriteString(row)
	}
	file := writeFile(t, "orders.csv", []byte(b.String()))
	code, out, errOut := runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--type", "transactions", "--delimiter", ";", "--decimal-comma",
		"--map", "external_id=Order ID", "--map", "customer_external_id=Customer", "--map", "amount=Total", "--map", "occurred_at=When", "--map", "quantity=Qty",
		"--progress", "none", "--batch", "50", file)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (partial): %s %s", code, out, errOut)
	}
	if !strings.Contains(out, fmt.Sprintf("%d imported (%d new", good, good)) || !strings.Contains(out, fmt.Sprintf("%d rejected", len(want))) {
		t.Fatalf("summary: %s", out)
	}
	rejects, err := os.ReadFile(file + ".rejects.csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")[1:]
	if len(lines) != len(want) {
		t.Fatalf("%d rejects, want %d:\n%s", len(lines), len(want), rejects)
	}
	for _, l := range lines {
		var n int
		fmt.Sscanf(l, "%d,", &n)
		reason, ok := want[n]
		if !ok || !strings.Contains(l, reason) {
			t.Errorf("reject %q: want line %d to be rejected for %q", l, n, reason)
		}
	}
	// The good rows are all there: 380 orders, each of its amount.
	var orders int64
	for _, id := range []string{"c1", "c2", "c3"} {
		cu, err := c.GetCustomer(authed(t.Context()), &customerv1.GetCustomerRequest{Ref: &customerv1.GetCustomerRequest_ExternalId{ExternalId: id}})
		if err != nil {
			t.Fatal(err)
		}
		orders += cu.GetPurchases().GetOrders()
	}
	if orders != int64(good) {
		t.Fatalf("%d orders stored, want %d", orders, good)
	}
	// Running it again changes nothing and says so.
	code, out, _ = runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--delimiter", ";", "--decimal-comma",
		"--map", "external_id=Order ID", "--map", "customer_external_id=Customer", "--map", "amount=Total", "--map", "occurred_at=When", "--map", "quantity=Qty",
		"--progress", "none", file)
	if code != 3 || !strings.Contains(out, fmt.Sprintf("(0 new, %d already known)", good)) {
		t.Fatalf("re-run: exit %d: %s", code, out)
	}
}

func cdnowFile(tb testing.TB, gz bool) string {
	tb.Helper()
	data, err := os.ReadFile("../../testdata/cdnow/CDNOW_sample.txt")
	if err != nil {
		tb.Fatal(err)
	}
	if !gz {
		return writeFile(tb, "CDNOW_sample.txt", data)
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return writeFile(tb, "CDNOW_sample.txt.gz", b.Bytes())
}

// TestImportKilledHalfwayThenRerun cancels an import midway (as a kill
// would), re-runs it, and compares the stored data with one clean run.
func TestImportKilledHalfwayThenRerun(t *testing.T) {
	file := cdnowFile(t, true)
	cleanAddr, cleanConn := testServer(t)
	if code, out, errOut := runCLI(t, "import", "--addr", cleanAddr, "--api-key", testKey, "--format", "cdnow", "--create-missing-customers", "--progress", "none", file); code != 0 {
		t.Fatalf("clean run: exit %d %s %s", code, out, errOut)
	}
	addr, conn := testServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		// Cancel once some, but not all, rows are in.
		c := customerv1.NewCustomerServiceClient(conn)
		for ctx.Err() == nil {
			page, err := c.ListCustomers(authed(ctx), &customerv1.ListCustomersRequest{PageSize: 1000})
			if err == nil && len(page.GetCustomers()) > 300 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	code := run(ctx, []string{"import", "--addr", addr, "--api-key", testKey, "--format", "cdnow", "--create-missing-customers", "--progress", "none", "--batch", "100", "--concurrency", "1", file}, io.Discard, io.Discard)
	cancel()
	if code == 0 {
		t.Log("the import finished before it could be interrupted")
	}
	partial := snapshot(t, conn)
	if code, out, errOut := runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--format", "cdnow", "--create-missing-customers", "--progress", "none", file); code != 0 {
		t.Fatalf("re-run: exit %d %s %s", code, out, errOut)
	}
	clean, resumed := snapshot(t, cleanConn), snapshot(t, conn)
	if clean != resumed {
		t.Fatal("interrupted + re-run import differs from a clean run")
	}
	if partial == clean {
		t.Log("note: the interrupted run had already imported everything")
	}
	if n := strings.Count(clean, "\n") + 1; n != 2357 {
		t.Fatalf("%d customers, want 2357", n)
	}
}

func TestReaderFormats(t *testing.T) {
	opts := parseOptions{}
	// A gzip-compressed CSV with a BOM and default header names.
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("\uFEFFcustomer_external_id,amount,occurred_at,kind\nc1,12.5,2024-01-02T03:04:05+02:00,refund\nc2,3,2024-01-02,\n"))
	w.Close()
	in, counter, err := openInput(&gz)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := newCSVReader(in, counter, importTransactions, ',', nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	rec, reason, err := rr.next()
	if err != nil || reason != "" {
		t.Fatal(reason, err)
	}
	tx := rec.msg.(*customerv1.Transaction)
	if tx.GetAmount() != "12.5" || tx.GetKind() != customerv1.TransactionKind_TRANSACTION_KIND_REFUND || !tx.GetOccurredAt().AsTime().Equal(time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC)) || !strings.HasPrefix(tx.GetExternalId(), "imp-") {
		t.Fatalf("row 2 = %v", tx)
	}
	rec2, _, _ := rr.next()
	if rec2.line != 3 || rec2.msg.(*customerv1.Transaction).GetExternalId() == tx.GetExternalId() {
		t.Fatalf("row 3 = %+v", rec2)
	}
	if _, _, err := rr.next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// Decimal commas and a custom date layout.
	got, err := parseAmount("1.234,50", parseOptions{decimalComma: true})
	if err != nil || got != "1234.50" {
		t.Fatalf("decimal comma: %q %v", got, err)
	}
	d, err := parseTime("31.12.2024", parseOptions{dateLayout: "02.01.2006"})
	if err != nil || !d.Equal(time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("date layout: %v %v", d, err)
	}
	// A missing required column is a usage error naming the flag to use.
	_, err = newCSVReader(strings.NewReader("who,what\n"), &countingReader{}, importTransactions, ',', nil, opts)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--map") {
		t.Fatalf("missing column: %v", err)
	}
}

func FuzzReaderRow(f *testing.F) {
	f.Add("c1,12.50,2024-01-02,order")
	f.Add("c1,\"1,5\",2024-01-02T00:00:00Z,refund")
	f.Add("\"unterminated,1,2024-01-02,")
	f.Fuzz(func(t *testing.T, row string) {
		rr, err := newCSVReader(strings.NewReader("customer_external_id,amount,occurred_at,kind\n"+row+"\n"), &countingReader{}, importTransactions, ',', nil, parseOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			rec, reason, err := rr.next()
			if err != nil {
				return
			}
			if reason == "" && rec.msg == nil {
				t.Fatal("a row neither parsed nor rejected")
			}
		}
	})
}

// TestImportFeedback imports feedback rows, rejecting an out-of-range score
// and an unknown customer, and changes nothing when run again.
func TestImportFeedback(t *testing.T) {
	addr, conn := testServer(t)
	c := customerv1.NewCustomerServiceClient(conn)
	if _, err := c.BatchUpsertCustomers(authed(t.Context()), &customerv1.BatchUpsertCustomersRequest{Customers: []*customerv1.Customer{{ExternalId: "c1"}}}); err != nil {
		t.Fatal(err)
	}
	file := writeFile(t, "feedback.csv", []byte("external_id,customer_external_id,kind,score,topic,text,occurred_at\n"+
		"f1,c1,nps,9,,Great service,2026-01-05\n"+
		"f2,c1,rating,7,,too high,2026-01-06\n"+
		"f3,c1,complaint,,delivery,Late parcel,2026-01-07\n"+
		"f4,nobody,praise,,,Thanks,2026-01-08\n"))
	code, out, errOut := runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--type", "feedback", "--progress", "none", file)
	if code != 3 || !strings.Contains(out, "2 imported (2 new, 0 already known), 2 rejected") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	rejects, _ := os.ReadFile(file + ".rejects.csv")
	if !strings.Contains(string(rejects), "\n3,") || !strings.Contains(string(rejects), "\n5,") {
		t.Fatalf("rejects:\n%s", rejects)
	}
	code, out, _ = runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--type", "feedback", "--progress", "none", file)
	if code != 3 || !strings.Contains(out, "(0 new, 2 already known)") {
		t.Fatalf("re-run: exit %d: %s", code, out)
	}
}
