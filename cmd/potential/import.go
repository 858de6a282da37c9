package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
)

// errPartial: the import finished but rejected rows (exit code 3).
var errPartial = errors.New("some rows were rejected")

type mapFlag map[string]string

func (m mapFlag) String() string { return "" }
func (m mapFlag) Set(v string) error {
	field, header, ok := strings.Cut(v, "=")
	if !ok || field == "" || header == "" {
		return fmt.Errorf("want field=Header, got %q", v)
	}
	m[strings.TrimSpace(field)] = strings.TrimSpace(header)
	return nil
}

type importConfig struct {
	addr, key, kind, format, delimiter, dateFormat, rejects, timeZone string
	decimalComma, createMissing                                       bool
	batch, concurrency                                                int
	mapping                                                           mapFlag
	progress                                                          string
}

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := importConfig{mapping: mapFlag{}}
	fs := flagSet("import", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: potential import [flags] FILE\n\nImports a CSV file (optionally gzip-compressed, UTF-8 with or without BOM) of customers,")
		fmt.Fprintln(stderr, "transactions, interactions or feedback through the API, in batches. Bad rows go to a rejects file with")
		fmt.Fprintln(stderr, "their line number and reason; the rest is imported. Re-running the same import changes nothing:")
		fmt.Fprintln(stderr, "rows without an external_id get one derived from their content.\n\nExit codes: 0 all rows imported, 1 failure, 2 usage error, 3 imported with rejects.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "localhost:9090", describe("addr", "gRPC address of the service"))
	fs.StringVar(&cfg.key, "api-key", "", describe("api-key", "API key (role admin or ingest)"))
	fs.StringVar(&cfg.kind, "type", "transactions", describe("type", "what the file holds: customers, transactions, interactions or feedback"))
	fs.StringVar(&cfg.format, "format", "csv", describe("format", "csv, or cdnow for the whitespace-separated CDNOW log (customer id, date YYYYMMDD, CDs, dollars)"))
	fs.StringVar(&cfg.delimiter, "delimiter", ",", describe("delimiter", "CSV field delimiter (use \\t for tab)"))
	fs.Var(cfg.mapping, "map", "map a field to a column header, field=Header (repeatable), e.g. --map customer_external_id=\"Customer ID\"")
	fs.StringVar(&cfg.dateFormat, "date-format", "", describe("date-format", "Go reference layout of dates, e.g. 02.01.2006; default ISO 8601 (RFC 3339 or YYYY-MM-DD)"))
	fs.StringVar(&cfg.timeZone, "time-zone", "UTC", describe("time-zone", "IANA zone of dates without an offset"))
	fs.BoolVar(&cfg.decimalComma, "decimal-comma", false, describe("decimal-comma", "amounts use a decimal comma (1.234,50)"))
	fs.BoolVar(&cfg.createMissing, "create-missing-customers", false, describe("create-missing-customers", "create customers that events refer to but that do not exist, instead of rejecting the rows"))
	fs.IntVar(&cfg.batch, "batch", 500, describe("batch", "rows per call (1-1000)"))
	fs.IntVar(&cfg.concurrency, "concurrency", 4, describe("concurrency", "calls in flight"))
	fs.StringVar(&cfg.rejects, "rejects", "", describe("rejects", "rejects file; default FILE.rejects.csv"))
	fs.StringVar(&cfg.progress, "progress", "auto", describe("progress", "auto (a bar on a terminal, lines otherwise), bar, lines or none"))
	if err := parseWithArgs(fs, args, 1); err != nil {
		return err
	}
	file := fs.Arg(0)
	if cfg.key == "" {
		return fmt.Errorf("%w: --api-key or POTENTIAL_API_KEY is required", errUsage)
	}
	if cfg.batch < 1 || cfg.batch > 1000 || cfg.concurrency < 1 {
		return fmt.Errorf("%w: --batch must be 1-1000 and --concurrency at least 1", errUsage)
	}
	kind := importKind(cfg.kind)
	if _, ok := importFields[kind]; !ok {
		return fmt.Errorf("%w: --type must be customers, transactions, interactions or feedback", errUsage)
	}
	loc, err := time.LoadLocation(cfg.timeZone)
	if err != nil {
		return fmt.Errorf("%w: --time-zone: %v", errUsage, err)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// What the import holds is bounded (the batches in flight, see
		// importer.run), but the collector lets the heap grow to twice
		// what it holds before it runs; a limit makes it run sooner, so
		// that the client's memory stays small whatever the file's size.
		debug.SetMemoryLimit(importMemoryLimit)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, _ := f.Stat()
	in, counter, err := openInput(f)
	if err != nil {
		return err
	}
	opts := parseOptions{dateLayout: cfg.dateFormat, decimalComma: cfg.decimalComma, location: loc}
	var rr *rowReader
	switch cfg.format {
	case "csv":
		delim := []rune(strings.ReplaceAll(cfg.delimiter, `\t`, "\t"))
		if len(delim) != 1 {
			return fmt.Errorf("%w: --delimiter must be one character", errUsage)
		}
		if rr, err = newCSVReader(in, counter, kind, delim[0], cfg.mapping, opts); err != nil {
			return err
		}
	case "cdnow":
		if kind != importTransactions {
			return fmt.Errorf("%w: --format cdnow holds transactions", errUsage)
		}
		rr = newCDNOWReader(in, counter)
	default:
		return fmt.Errorf("%w: --format must be csv or cdnow", errUsage)
	}
	rejectsPath := cfg.rejects
	if rejectsPath == "" {
		rejectsPath = file + ".rejects.csv"
	}
	conn, err := grpc.NewClient(cfg.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	im := &importer{
		client: customerv1.NewCustomerServiceClient(conn), feedback: feedbackv1.NewFeedbackServiceClient(conn), key: cfg.key, kind: kind,
		createMissing: cfg.createMissing, batch: cfg.batch, concurrency: cfg.concurrency,
	}
	total := int64(0)
	if st != nil {
		total = st.Size()
	}
	mode := cfg.progress
	if mode == "auto" {
		mode = "lines"
		if fd, ok := stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
			mode = "bar"
		}
	}
	stop := im.report(stderr, mode, counter, total)
	res, err := im.run(ctx, rr)
	stop()
	if err != nil {
		return err
	}
	if len(res.rejects) > 0 {
		if err := writeRejects(rejectsPath, res.rejects); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d rows read: %d imported (%d new, %d already known), %d rejected%s; %d customers created\n",
		res.read, res.created+res.known, res.created, res.known, len(res.rejects), rejectsNote(len(res.rejects), rejectsPath), res.customers)
	if len(res.rejects) > 0 {
		return errPartial
	}
	return nil
}

func rejectsNote(n int, path string) string {
	if n == 0 {
		return ""
	}
	return " (see " + path + ")"
}

// reject is a row that was not imported.
type reject struct {
	line   int
	reason string
	raw    string
}

func writeRejects(path string, rs []reject) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"line", "reason", "row"})
	for _, r := range rs {
		_ = w.Write([]string{strconv.Itoa(r.line), r.reason, r.raw})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type importResult struct {
	read, created, known, customers int64
	rejects                         []reject
}

// importer sends records in batches, concurrently, retrying what is safe
// to retry and setting aside the rows the service rejects.
type importer struct {
	client        customerv1.CustomerServiceClient
	feedback      feedbackv1.FeedbackServiceClient
	key           string
	kind          importKind
	createMissing bool
	batch         int
	concurrency   int

	read, done atomic.Int64
	start      time.Time
}

func (im *importer) run(ctx context.Context, rr *rowReader) (importResult, error) {
	im.start = time.Now()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+im.key)
	var (
		res   importResult
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// One lane a call in flight, each with the rows of its own customers
	// (laneOf): calls in flight never share a customer, so none waits for
	// another's row locks, and a customer's rows are sent in file order.
	lanes := make([]chan []record, im.concurrency)
	for i := range lanes {
		lanes[i] = make(chan []record, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range lanes[i] {
				created, known, customers, rejects, err := im.send(ctx, b)
				mu.Lock()
				res.created += created
				res.known += known
				res.customers += customers
				res.rejects = append(res.rejects, rejects...)
				if err != nil && first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
				im.done.Add(int64(len(b)))
			}
		}()
	}
	cur := make([][]record, im.concurrency)
	var readErr error
	for {
		rec, reason, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		im.read.Add(1)
		if reason != "" {
			mu.Lock()
			res.rejects = append(res.rejects, reject{line: rec.line, reason: reason, raw: rec.raw})
			mu.Unlock()
			continue
		}
		l := laneOf(rec, len(lanes))
		cur[l] = append(cur[l], rec)
		if len(cur[l]) == im.batch {
			select {
			case lanes[l] <- cur[l]:
			case <-ctx.Done():
			}
			cur[l] = nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	for l, b := range cur {
		if len(b) > 0 && ctx.Err() == nil {
			lanes[l] <- b
		}
	}
	for _, lane := range lanes {
		close(lane)
	}
	wg.Wait()
	res.read = im.read.Load()
	sortRejects(res.rejects)
	if readErr != nil {
		return res, readErr
	}
	if first != nil {
		return res, first
	}
	return res, ctx.Err()
}

// laneOf returns the lane (of n) of a record: by its customer's external
// id (a customer's own for customer rows), so that all the rows of one
// customer take the same lane; rows without one are spread by line.
func laneOf(rec record, n int) int {
	key := rec.ref
	if c, ok := rec.msg.(*customerv1.Customer); ok {
		key = c.GetExternalId()
	}
	if key == "" {
		return rec.line % n
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// importMemoryLimit is the import's soft memory limit (GOMEMLIMIT
// overrides it).
const importMemoryLimit = 48 << 20

func sortRejects(rs []reject) {
	slices.SortStableFunc(rs, func(a, b reject) int { return cmp.Compare(a.line, b.line) })
}

var itemIndexRe = regexp.MustCompile(`^(?:customers|transactions|interactions)\[(\d+)\]`)

// send records one batch. Rows the service rejects by field are set aside
// and the rest sent again; unavailable or cut calls are retried with the
// same ids (safe: recording is idempotent).
func (im *importer) send(ctx context.Context, b []record) (created, known, customers int64, rejects []reject, err error) {
	backoff := 100 * time.Millisecond
	for attempt := 0; len(b) > 0; attempt++ {
		var c, k, cc int32
		switch im.kind {
		case importCustomers:
			req := &customerv1.BatchUpsertCustomersRequest{}
			for _, r := range b {
				req.Customers = append(req.Customers, r.msg.(*customerv1.Customer))
			}
			var resp *customerv1.BatchUpsertCustomersResponse
			if resp, err = im.client.BatchUpsertCustomers(ctx, req); err == nil {
				c, k = resp.GetCreatedCount(), resp.GetUpdatedCount()+resp.GetUnchangedCount()
			}
		case importTransactions:
			req := &customerv1.RecordTransactionsRequest{CreateMissingCustomers: im.createMissing}
			for _, r := range b {
				req.Transactions = append(req.Transactions, r.msg.(*customerv1.Transaction))
			}
			var resp *customerv1.RecordTransactionsResponse
			if resp, err = im.client.RecordTransactions(ctx, req); err == nil {
				c, k, cc = resp.GetCreatedCount(), resp.GetAlreadyKnownCount(), resp.GetCreatedCustomersCount()
			}
		case importInteractions:
			req := &customerv1.RecordInteractionsRequest{CreateMissingCustomers: im.createMissing}
			for _, r := range b {
				req.Interactions = append(req.Interactions, r.msg.(*customerv1.Interaction))
			}
			var resp *customerv1.RecordInteractionsResponse
			if resp, err = im.client.RecordInteractions(ctx, req); err == nil {
				c, k, cc = resp.GetCreatedCount(), resp.GetAlreadyKnownCount(), resp.GetCreatedCustomersCount()
			}
		case importFeedback:
			// One call per item (feedback has no batch method); a row the
			// service refuses is rejected alone.
			for _, r := range b {
				resp, err := im.feedback.SubmitFeedback(ctx, &feedbackv1.SubmitFeedbackRequest{Feedback: r.msg.(*feedbackv1.Feedback)})
				switch st, _ := status.FromError(err); {
				case err == nil && resp.GetCreated():
					c++
				case err == nil:
					k++
				case st.Code() == codes.InvalidArgument || st.Code() == codes.NotFound || st.Code() == codes.FailedPrecondition:
					rejects = append(rejects, reject{line: r.line, reason: st.Message(), raw: r.raw})
				default:
					return created + int64(c), known + int64(k), customers, rejects, err
				}
			}
			err = nil
		}
		if err == nil {
			return created + int64(c), known + int64(k), customers + int64(cc), rejects, nil
		}
		st, _ := status.FromError(err)
		switch st.Code() {
		case codes.InvalidArgument:
			bad := map[int]string{}
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						if m := itemIndexRe.FindStringSubmatch(v.GetField()); m != nil {
							i, _ := strconv.Atoi(m[1])
							if i < len(b) {
								bad[i] = strings.TrimPrefix(v.GetField(), m[0]+".") + ": " + v.GetDescription()
							}
						}
					}
				}
			}
			if len(bad) == 0 {
				return created, known, customers, rejects, fmt.Errorf("the service refused a batch: %v", st.Message())
			}
			keep := b[:0:0]
			for i, r := range b {
				if reason, ok := bad[i]; ok {
					rejects = append(rejects, reject{line: r.line, reason: reason, raw: r.raw})
				} else {
					keep = append(keep, r)
				}
			}
			b = keep
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.ResourceExhausted, codes.Internal:
			if attempt > 12 {
				return created, known, customers, rejects, err
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return created, known, customers, rejects, ctx.Err()
			}
			backoff = min(2*backoff, 5*time.Second)
		default:
			return created, known, customers, rejects, err
		}
	}
	return created, known, customers, rejects, nil
}

// report prints progress until the returned stop is called: a bar with rows/s
// and ETA on a terminal, a line every 5 s otherwise.
func (im *importer) report(w io.Writer, mode string, counter *countingReader, total int64) func() {
	if mode == "none" {
		return func() {}
	}
	interval := 200 * time.Millisecond
	if mode == "lines" {
		interval = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	line := func(final bool) {
		elapsed := time.Since(im.start).Seconds()
		rows := im.done.Load()
		rate := float64(rows) / max(elapsed, 1e-9)
		frac := 0.0
		if total > 0 {
			frac = min(float64(counter.n.Load())/float64(total), 1)
		}
		eta := "?"
		if frac > 0 && !final {
			eta = time.Duration(elapsed * (1 - frac) / frac * float64(time.Second)).Round(time.Second).String()
		}
		if mode == "bar" {
			n := int(frac * 30)
			fmt.Fprintf(w, "\r[%s%s] %3.0f%% %d rows %.0f rows/s ETA %s   ", strings.Repeat("#", n), strings.Repeat(".", 30-n), 100*frac, rows, rate, eta)
			if final {
				fmt.Fprintln(w)
			}
			return
		}
		fmt.Fprintf(w, "import: %.0f%% %d rows, %.0f rows/s, ETA %s\n", 100*frac, rows, rate, eta)
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				line(false)
			case <-done:
				line(true)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
