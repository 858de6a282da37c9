package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	feedbackv1 "github.com/potentialhq/potential/gen/go/potential/feedback/v1"
)

// importKind is what a file holds.
type importKind string

const (
	importCustomers    importKind = "customers"
	importTransactions importKind = "transactions"
	importInteractions importKind = "interactions"
	importFeedback     importKind = "feedback"
)

// importFields are the fields each kind maps from columns; a column whose
// header equals the field name (case-insensitive, spaces and dashes read as
// underscores) maps by default. required fields must be mapped.
var importFields = map[importKind]struct{ all, required []string }{
	importCustomers: {
		all:      []string{"external_id", "kind", "display_name", "given_name", "family_name", "company_name", "email", "phone", "country", "region", "city", "industry", "company_size", "age_band", "gender", "acquisition_channel"},
		required: []string{"external_id"},
	},
	importTransactions: {
		all:      []string{"external_id", "customer_external_id", "kind", "amount", "margin", "quantity", "occurred_at"},
		required: []string{"customer_external_id", "amount", "occurred_at"},
	},
	importInteractions: {
		all:      []string{"external_id", "customer_external_id", "type", "direction", "channel", "occurred_at"},
		required: []string{"customer_external_id", "type", "occurred_at"},
	},
	importFeedback: {
		all:      []string{"external_id", "customer_external_id", "kind", "score", "channel", "topic", "text", "occurred_at"},
		required: []string{"customer_external_id", "kind", "occurred_at"},
	},
}

// parseOptions say how to read values.
type parseOptions struct {
	dateLayout   string // Go layout; "" accepts RFC 3339 and YYYY-MM-DD
	decimalComma bool   // "12,50" means 12.50
	location     *time.Location
}

// record is one parsed row.
type record struct {
	line int
	raw  string        // the row as read, for the rejects file
	msg  proto.Message // *customerv1.Customer, Transaction or Interaction
	ref  string        // the customer external id, for messages
	kind importKind
}

// rowReader reads records of one kind from a CSV (or CDNOW) stream.
type rowReader struct {
	kind    importKind
	opts    parseOptions
	csv     *csv.Reader
	cdnow   *bufio.Scanner
	col     map[string]int // field -> column
	width   int            // columns per row
	line    int
	seen    map[[32]byte]int // content hash -> occurrences so far, for derived ids
	counter *countingReader
}

// countingReader counts the bytes read from the underlying file, for progress.
// The progress reporter reads n from another goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// openInput wraps r: gzip is detected by its magic bytes, a UTF-8 BOM is dropped.
func openInput(r io.Reader) (io.Reader, *countingReader, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 1<<16)
	magic, _ := br.Peek(2)
	var in io.Reader = br
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		in = bufio.NewReaderSize(gz, 1<<16)
	}
	bin := in.(*bufio.Reader)
	if bom, _ := bin.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = bin.Discard(3)
	}
	return bin, cr, nil
}

func normHeader(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(h)
}

// newCSVReader reads the header and resolves the mapping (field -> header).
func newCSVReader(in io.Reader, counter *countingReader, kind importKind, delimiter rune, mapping map[string]string, opts parseOptions) (*rowReader, error) {
	cr := csv.NewReader(in)
	cr.Comma = delimiter
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	byName := map[string]int{}
	for i, h := range header {
		byName[normHeader(h)] = i
	}
	rr := &rowReader{kind: kind, opts: opts, csv: cr, col: map[string]int{}, width: len(header), line: 1, seen: map[[32]byte]int{}, counter: counter}
	spec := importFields[kind]
	known := map[string]bool{}
	for _, f := range spec.all {
		known[f] = true
	}
	for f := range mapping {
		if !known[f] {
			return nil, fmt.Errorf("%w: --map %s: %s has no field %q (fields: %s)", errUsage, f, kind, f, strings.Join(spec.all, ", "))
		}
	}
	for _, f := range spec.all {
		h := f
		if m, ok := mapping[f]; ok {
			h = m
		}
		if i, ok := byName[normHeader(h)]; ok {
			rr.col[f] = i
		}
	}
	for _, f := range spec.required {
		if _, ok := rr.col[f]; !ok {
			return nil, fmt.Errorf("%w: no column for %s (map one with --map %s=\"Header\")", errUsage, f, f)
		}
	}
	return rr, nil
}

// newCDNOWReader reads the whitespace-separated CDNOW log: master id,
// customer id, date (YYYYMMDD), CDs bought, dollar value; no header.
func newCDNOWReader(in io.Reader, counter *countingReader) *rowReader {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &rowReader{
		kind: importTransactions, opts: parseOptions{dateLayout: "20060102"}, cdnow: sc,
		col:   map[string]int{"customer_external_id": 1, "occurred_at": 2, "quantity": 3, "amount": 4},
		width: 5, seen: map[[32]byte]int{}, counter: counter,
	}
}

// next returns the next record, or a reject reason for a bad row; io.EOF at the end.
func (rr *rowReader) next() (record, string, error) {
	var fields []string
	var raw string
	if rr.cdnow != nil {
		if !rr.cdnow.Scan() {
			if err := rr.cdnow.Err(); err != nil {
				return record{}, "", err
			}
			return record{}, "", io.EOF
		}
		rr.line++
		raw = strings.TrimRight(rr.cdnow.Text(), "\r")
		fields = strings.Fields(raw)
		if len(fields) == 0 {
			return rr.next()
		}
	} else {
		row, err := rr.csv.Read()
		if err == io.EOF {
			return record{}, "", io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if asParseError(err, &pe) {
				rr.line = pe.Line
				return record{line: rr.line, kind: rr.kind}, "malformed CSV: " + pe.Err.Error(), nil
			}
			return record{}, "", err
		}
		rr.line, _ = rr.csv.FieldPos(0)
		fields = row
		raw = joinCSV(row, rr.csv.Comma)
	}
	rec := record{line: rr.line, raw: raw, kind: rr.kind}
	if len(fields) != rr.width {
		return rec, fmt.Sprintf("expected %d columns, found %d", rr.width, len(fields)), nil
	}
	for i, f := range fields {
		if !utf8.ValidString(f) {
			return rec, fmt.Sprintf("column %d is not valid UTF-8", i+1), nil
		}
	}
	get := func(f string) string {
		if i, ok := rr.col[f]; ok {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	id := get("external_id")
	if id == "" && rr.kind != importCustomers {
		// A derived id: the row's content and how often that content has
		// occurred so far, so re-running the same file gives the same ids.
		h := sha256.Sum256([]byte(string(rr.kind) + "\x00" + strings.Join(fields, "\x00")))
		n := rr.seen[h]
		rr.seen[h] = n + 1
		id = fmt.Sprintf("imp-%s-%d", hex.EncodeToString(h[:12]), n)
	}
	msg, reason := buildMessage(rr.kind, id, get, rr.opts)
	if reason != "" {
		return rec, reason, nil
	}
	rec.msg = msg
	rec.ref = get("customer_external_id")
	return rec, "", nil
}

func asParseError(err error, pe **csv.ParseError) bool {
	p, ok := err.(*csv.ParseError)
	if ok {
		*pe = p
	}
	return ok
}

func joinCSV(row []string, comma rune) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = comma
	_ = w.Write(row)
	w.Flush()
	return strings.TrimRight(b.String(), "\r\n")
}

func parseTime(s string, o parseOptions) (time.Time, error) {
	loc := o.location
	if loc == nil {
		loc = time.UTC
	}
	if o.dateLayout != "" {
		return time.ParseInLocation(o.dateLayout, s, loc)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date or time", s)
}

// parseAmount normalises a decimal: with decimalComma "1.234,50" → "1234.50".
func parseAmount(s string, o parseOptions) (string, error) {
	if o.decimalComma {
		s = strings.ReplaceAll(strings.ReplaceAll(s, ".", ""), ",", ".")
	}
	s = strings.ReplaceAll(s, " ", "")
	if _, err := strconv.ParseFloat(s, 64); err != nil || strings.ContainsAny(s, "eEinfINF") {
		return "", fmt.Errorf("%q is not a decimal number", s)
	}
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 > 6 {
		return "", fmt.Errorf("%q has more than 6 decimals", s)
	}
	return s, nil
}

var (
	txKinds = map[string]customerv1.TransactionKind{"": customerv1.TransactionKind_TRANSACTION_KIND_ORDER, "order": customerv1.TransactionKind_TRANSACTION_KIND_ORDER, "refund": customerv1.TransactionKind_TRANSACTION_KIND_REFUND}
)

// buildMessage converts one row's fields into the API message, or says why it cannot.
func buildMessage(kind importKind, id string, get func(string) string, o parseOptions) (proto.Message, string) {
	switch kind {
	case importCustomers:
		c := &customerv1.Customer{
			ExternalId: id, DisplayName: get("display_name"), GivenName: get("given_name"), FamilyName: get("family_name"),
			CompanyName: get("company_name"), Email: get("email"), Phone: get("phone"), Country: get("country"),
			Region: get("region"), City: get("city"), Industry: get("industry"), AcquisitionChannel: get("acquisition_channel"),
		}
		if id == "" {
			return nil, "external_id is empty"
		}
		if k := get("kind"); k != "" {
			v, ok := customerv1.CustomerKind_value["CUSTOMER_KIND_"+strings.ToUpper(k)]
			if !ok {
				return nil, fmt.Sprintf("kind %q is neither lead nor customer", k)
			}
			c.Kind = customerv1.CustomerKind(v)
		}
		for field, set := range map[string]func(int32){
			"company_size": func(v int32) { c.CompanySize = customerv1.CompanySize(v) },
			"age_band":     func(v int32) { c.AgeBand = customerv1.AgeBand(v) },
			"gender":       func(v int32) { c.Gender = customerv1.Gender(v) },
		} {
			val := get(field)
			if val == "" {
				continue
			}
			names := map[string]map[string]int32{"company_size": customerv1.CompanySize_value, "age_band": customerv1.AgeBand_value, "gender": customerv1.Gender_value}[field]
			v, ok := names[strings.ToUpper(field+"_"+strings.ReplaceAll(val, "-", "_"))]
			if !ok {
				return nil, fmt.Sprintf("%s %q is unknown", field, val)
			}
			set(v)
		}
		return c, ""
	case importTransactions:
		k, ok := txKinds[strings.ToLower(get("kind"))]
		if !ok {
			return nil, fmt.Sprintf("kind %q is neither order nor refund", get("kind"))
		}
		amount, err := parseAmount(get("amount"), o)
		if err != nil {
			return nil, "amount: " + err.Error()
		}
		if strings.HasPrefix(amount, "-") {
			return nil, "amount is negative; record returns as kind refund"
		}
		t, err := parseTime(get("occurred_at"), o)
		if err != nil {
			return nil, "occurred_at: " + err.Error()
		}
		tx := &customerv1.Transaction{
			ExternalId: id, Kind: k, Amount: amount, OccurredAt: timestamppb.New(t),
			Customer: &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: get("customer_external_id")}},
		}
		if m := get("margin"); m != "" {
			if tx.Margin, err = parseAmount(m, o); err != nil {
				return nil, "margin: " + err.Error()
			}
		}
		if q := get("quantity"); q != "" {
			n, err := strconv.ParseInt(q, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Sprintf("quantity %q is not a non-negative integer", q)
			}
			tx.Quantity = n
		}
		return tx, ""
	case importInteractions:
		v, ok := customerv1.InteractionType_value["INTERACTION_TYPE_"+strings.ToUpper(get("type"))]
		if !ok || v == 0 {
			return nil, fmt.Sprintf("type %q is unknown", get("type"))
		}
		t, err := parseTime(get("occurred_at"), o)
		if err != nil {
			return nil, "occurred_at: " + err.Error()
		}
		it := &customerv1.Interaction{
			ExternalId: id, Type: customerv1.InteractionType(v), Channel: get("channel"), OccurredAt: timestamppb.New(t),
			Customer: &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: get("customer_external_id")}},
		}
		if d := get("direction"); d != "" {
			dv, ok := customerv1.Direction_value["DIRECTION_"+strings.ToUpper(d)]
			if !ok {
				return nil, fmt.Sprintf("direction %q is neither inbound nor outbound", d)
			}
			it.Direction = customerv1.Direction(dv)
		}
		return it, ""
	case importFeedback:
		v, ok := feedbackv1.FeedbackKind_value["FEEDBACK_KIND_"+strings.ToUpper(get("kind"))]
		if !ok || v == 0 {
			return nil, fmt.Sprintf("kind %q is not complaint, suggestion, praise, question, rating or nps", get("kind"))
		}
		t, err := parseTime(get("occurred_at"), o)
		if err != nil {
			return nil, "occurred_at: " + err.Error()
		}
		fb := &feedbackv1.Feedback{
			ExternalId: id, Kind: feedbackv1.FeedbackKind(v), Channel: get("channel"), Topic: get("topic"), Text: get("text"),
			OccurredAt: timestamppb.New(t),
			Customer:   &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: get("customer_external_id")}},
		}
		if sc := get("score"); sc != "" {
			n, err := strconv.ParseInt(sc, 10, 32)
			if err != nil {
				return nil, fmt.Sprintf("score %q is not an integer", sc)
			}
			n32 := int32(n)
			fb.Score = &n32
		}
		return fb, ""
	}
	return nil, "unknown kind"
}
