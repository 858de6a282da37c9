package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FieldType is the type of a filterable or sortable customer field.
type FieldType int

// Field types.
const (
	FieldString FieldType = iota
	FieldInt
	FieldMoney
	FieldTime
	FieldFloat
)

// CustomerFields lists the fields ListCustomers can filter on, with their
// types. Names are the API's snake_case names. Stores map each to a column.
var CustomerFields = map[string]FieldType{
	"external_id":         FieldString,
	"kind":                FieldString,
	"display_name":        FieldString,
	"email":               FieldString,
	"country":             FieldString,
	"region":              FieldString,
	"city":                FieldString,
	"industry":            FieldString,
	"company_size":        FieldString,
	"age_band":            FieldString,
	"gender":              FieldString,
	"acquisition_channel": FieldString,
	"create_time":         FieldTime,
	"update_time":         FieldTime,
	"first_purchase_time": FieldTime,
	"last_purchase_time":  FieldTime,
	"purchase_days":       FieldInt,
	"orders":              FieldInt,
	"total_spend":         FieldMoney,
	// From the stored assessment (customers without one have zeros, "" and
	// stage "unknown").
	"predicted_value": FieldMoney,
	"value_at_risk":   FieldMoney,
	"p_alive":         FieldFloat,
	"churn_level":     FieldString, // none, low, medium, high
	"rfm_segment":     FieldString, // champions, loyal, … (rfm.Segment slugs)
	"lifecycle_stage": FieldString, // lead, new, active, at_risk, churned, reactivated
	"recency_score":   FieldInt,
	"frequency_score": FieldInt,
	"monetary_score":  FieldInt,
	// Relations a Customer does not carry; stores read them from the
	// grades and segment members (see Relations).
	"grade":   FieldString, // the stored grade under the tenant's grading policy; "" if not graded
	"segment": FieldString, // a segment id: = is "is a member", != "is not a member"
}

// Relations are what a filter on grade or segment needs beyond a
// Customer: its stored grade ("" if none) and whether it is a member of a
// segment. Stores that evaluate filters in Go (store/memory) provide them.
type Relations interface {
	Grade(customerID string) string
	IsMember(segmentID, customerID string) bool
}

// FilterSegments returns the segment ids f names, once each, in order.
func (f Filter) FilterSegments() []string {
	var out []string
	for _, c := range f {
		if c.Field == "segment" && !slices.Contains(out, c.Value.(string)) {
			out = append(out, c.Value.(string))
		}
	}
	return out
}

// CustomerOrderFields lists the fields ListCustomers can order by. Ties are
// broken by id, so every order is total and pages never skip or repeat.
var CustomerOrderFields = map[string]FieldType{
	"create_time":        FieldTime,
	"update_time":        FieldTime,
	"display_name":       FieldString,
	"external_id":        FieldString,
	"last_purchase_time": FieldTime,
	"total_spend":        FieldMoney,
	"orders":             FieldInt,
	"predicted_value":    FieldMoney,
	"value_at_risk":      FieldMoney,
	"p_alive":            FieldFloat,
}

// Op is a comparison operator of a filter condition.
type Op string

// Operators.
const (
	OpEq Op = "="
	OpNe Op = "!="
	OpLt Op = "<"
	OpLe Op = "<="
	OpGt Op = ">"
	OpGe Op = ">="
)

// Condition is one comparison "field op value". Value is a string, int64,
// Money or time.Time according to the field's type.
type Condition struct {
	Field string
	Op    Op
	Value any
}

// Filter is a conjunction of conditions.
type Filter []Condition

// ParseFilter parses the ListCustomers filter language, a subset of AIP-160:
//
//	filter     = condition { "AND" condition }
//	condition  = field op value
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">="
//	value      = quoted-string | bare-word
//
// Strings are compared exactly (case-sensitive); quoted strings use double
// quotes with backslash escapes. Times are RFC 3339 ("2024-01-31T00:00:00Z"),
// money is a decimal ("100.50"). String fields accept only = and !=.
// Example: `country = "PL" AND total_spend >= 500 AND kind = customer`.
// A zero time (no purchase yet) compares as earlier than every time.
func ParseFilter(s string) (Filter, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, Invalid("filter", "%v", err)
	}
	var f Filter
	for i := 0; i < len(toks); {
		if len(f) > 0 {
			if !strings.EqualFold(toks[i].text, "AND") || toks[i].quoted {
				return nil, Invalid("filter", "expected AND at %q", toks[i].text)
			}
			i++
		}
		if i+3 > len(toks) {
			return nil, Invalid("filter", "incomplete condition at the end")
		}
		field, op, val := toks[i], toks[i+1], toks[i+2]
		i += 3
		ft, ok := CustomerFields[field.text]
		if !ok || field.quoted {
			return nil, Invalid("filter", "unknown field %q; filterable fields: %s", field.text, fieldNames(CustomerFields))
		}
		o := Op(op.text)
		switch o {
		case OpEq, OpNe:
		case OpLt, OpLe, OpGt, OpGe:
			if ft == FieldString {
				return nil, Invalid("filter", "field %q accepts only = and !=", field.text)
			}
		default:
			return nil, Invalid("filter", "unknown operator %q", op.text)
		}
		v, err := parseValue(ft, val.text)
		if err == nil {
			err = checkRelationValue(field.text, val.text)
		}
		if err != nil {
			return nil, Invalid("filter", "value for %s: %v", field.text, err)
		}
		f = append(f, Condition{Field: field.text, Op: o, Value: v})
	}
	if len(f) > 32 {
		return nil, Invalid("filter", "at most 32 conditions")
	}
	return f, nil
}

// checkRelationValue checks the value of a grade or segment condition: a
// segment is named by its id, a grade by a label a policy may use (or ""
// for customers without a grade).
func checkRelationValue(field, s string) error {
	switch field {
	case "segment":
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return fmt.Errorf("%q is not a segment id (a UUID)", s)
		}
	case "grade":
		if s != "" && (len(s) > maxGradeBytes || !utf8.ValidString(s) || strings.TrimSpace(s) != s || strings.IndexByte(s, 0) >= 0) {
			return fmt.Errorf("%q is not a grade label (1-%d bytes of UTF-8 without surrounding spaces)", s, maxGradeBytes)
		}
	}
	return nil
}

func parseValue(ft FieldType, s string) (any, error) {
	switch ft {
	case FieldInt:
		return strconv.ParseInt(s, 10, 64)
	case FieldMoney:
		return ParseMoney(s)
	case FieldFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return f, nil
	case FieldTime:
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 time", s)
		}
		return t.UTC(), nil
	}
	return s, nil
}

func fieldNames(m map[string]FieldType) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sortStrings(names)
	return strings.Join(names, ", ")
}

type token struct {
	text   string
	quoted bool
}

func lexFilter(s string) ([]token, error) {
	var out []token
	r := []rune(s)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for i < len(r) {
				if r[i] == '\\' && i+1 < len(r) {
					b.WriteRune(r[i+1])
					i += 2
					continue
				}
				if r[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteRune(r[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, token{b.String(), true})
		case c == '=' || c == '<' || c == '>' || c == '!':
			j := i + 1
			if j < len(r) && r[j] == '=' {
				j++
			}
			out = append(out, token{string(r[i:j]), false})
			i = j
		default:
			j := i
			for j < len(r) && !unicode.IsSpace(r[j]) && !strings.ContainsRune("=<>!\"", r[j]) {
				j++
			}
			out = append(out, token{string(r[i:j]), false})
			i = j
		}
		if len(out) > 200 {
			return nil, fmt.Errorf("filter too long")
		}
	}
	return out, nil
}

// Order is a sort order of a customer listing.
type Order struct {
	Field string
	Desc  bool
}

// ParseOrder parses "field" or "field desc" (AIP-132 order_by, one field;
// default create_time ascending).
func ParseOrder(s string) (Order, error) {
	parts := strings.Fields(s)
	switch {
	case len(parts) == 0:
		return Order{Field: "create_time"}, nil
	case len(parts) > 2 || (len(parts) == 2 && !strings.EqualFold(parts[1], "desc") && !strings.EqualFold(parts[1], "asc")):
		return Order{}, Invalid("order_by", "expected \"field\" or \"field desc\"")
	}
	if _, ok := CustomerOrderFields[parts[0]]; !ok {
		return Order{}, Invalid("order_by", "cannot order by %q; orderable fields: %s", parts[0], fieldNames(CustomerOrderFields))
	}
	return Order{Field: parts[0], Desc: len(parts) == 2 && strings.EqualFold(parts[1], "desc")}, nil
}

// Cursor is a keyset position: the sort value and id of the last row returned.
type Cursor struct {
	Value any // string, int64, Money or time.Time per the order field's type
	ID    string
}

// CustomerQuery is what a store needs to return one page of customers.
type CustomerQuery struct {
	Filter Filter
	Order  Order
	After  *Cursor // nil: first page
	Limit  int
}

// SortValue returns c's value of an orderable field, as stored in a Cursor.
func (c *Customer) SortValue(field string) any {
	switch field {
	case "create_time":
		return c.CreateTime
	case "update_time":
		return c.UpdateTime
	case "display_name":
		return c.DisplayName
	case "external_id":
		return c.ExternalID
	case "last_purchase_time":
		return c.Purchases.LastPurchaseTime
	case "total_spend":
		return c.Purchases.TotalSpend
	case "orders":
		return c.Purchases.Orders
	case "predicted_value":
		return c.Assessment.PredictedValue
	case "value_at_risk":
		return c.Assessment.ValueAtRisk
	case "p_alive":
		return c.Assessment.PAlive
	}
	return nil
}

// FieldValue returns c's value of a filterable field.
func (c *Customer) FieldValue(field string) any {
	switch field {
	case "external_id":
		return c.ExternalID
	case "kind":
		return string(c.Kind)
	case "display_name":
		return c.DisplayName
	case "email":
		return c.Email
	case "country":
		return c.Country
	case "region":
		return c.Region
	case "city":
		return c.City
	case "industry":
		return c.Industry
	case "company_size":
		return string(c.CompanySize)
	case "age_band":
		return string(c.AgeBand)
	case "gender":
		return string(c.Gender)
	case "acquisition_channel":
		return c.AcquisitionChannel
	case "first_purchase_time":
		return c.Purchases.FirstPurchaseTime
	case "purchase_days":
		return c.Purchases.PurchaseDays
	case "churn_level":
		return c.Assessment.Churn.String()
	case "rfm_segment":
		if c.Assessment.RFM.Valid() {
			return c.Assessment.Segment.Slug()
		}
		return ""
	case "lifecycle_stage":
		return c.Assessment.Stage.String()
	case "recency_score":
		return int64(c.Assessment.RFM.R)
	case "frequency_score":
		return int64(c.Assessment.RFM.F)
	case "monetary_score":
		return int64(c.Assessment.RFM.M)
	}
	return c.SortValue(field)
}

// Compare orders two values of the same field type: -1, 0 or +1.
func Compare(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		return cmp3(x, b.(int64))
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case Money:
		return cmp3(x, b.(Money))
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	panic(fmt.Sprintf("domain.Compare: unsupported %T", a))
}

func cmp3[T ~int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Matches reports whether c satisfies every condition of f. A filter on
// grade or segment needs MatchesWith.
func (f Filter) Matches(c *Customer) bool { return f.MatchesWith(c, nil) }

// MatchesWith reports whether c satisfies every condition of f, reading
// grades and segment membership through rel (nil: no grade, no segment).
func (f Filter) MatchesWith(c *Customer, rel Relations) bool {
	for _, cond := range f {
		var v any
		switch cond.Field {
		case "grade":
			v = ""
			if rel != nil {
				v = rel.Grade(c.ID)
			}
		case "segment":
			member := rel != nil && rel.IsMember(cond.Value.(string), c.ID)
			if member != (cond.Op == OpEq) {
				return false
			}
			continue
		default:
			v = c.FieldValue(cond.Field)
		}
		r := Compare(v, cond.Value)
		ok := false
		switch cond.Op {
		case OpEq:
			ok = r == 0
		case OpNe:
			ok = r != 0
		case OpLt:
			ok = r < 0
		case OpLe:
			ok = r <= 0
		case OpGt:
			ok = r > 0
		case OpGe:
			ok = r >= 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// pageToken is the decoded form of an opaque page token. The fingerprint
// binds it to the tenant, filter and order it was issued for.
type pageToken struct {
	Fingerprint uint64  `json:"f"`
	Kind        byte    `json:"k"`
	S           string  `json:"s,omitempty"`
	N           int64   `json:"n,omitempty"`
	F           float64 `json:"d,omitempty"`
	ID          string  `json:"i"`
}

func queryFingerprint(tenantID, filter, order string) uint64 {
	h := sha256.Sum256([]byte(tenantID + "\x00" + filter + "\x00" + order))
	return binary.BigEndian.Uint64(h[:8])
}

// trimPage cuts rows, read with one row more than a page of size, to the
// page, and returns the next page's token, made by next from the page's
// last row; "" when rows fit in the page (the last page).
func trimPage[T any](rows []T, size int, next func(last *T) string) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, next(&rows[size-1])
}

// EncodePageToken makes the opaque token for the page after cur.
func EncodePageToken(tenantID, filter, order string, cur Cursor) string {
	t := pageToken{Fingerprint: queryFingerprint(tenantID, filter, order), ID: cur.ID}
	switch v := cur.Value.(type) {
	case string:
		t.Kind, t.S = 's', v
	case int64:
		t.Kind, t.N = 'i', v
	case Money:
		t.Kind, t.N = 'm', int64(v)
	case float64:
		t.Kind, t.F = 'f', v
	case time.Time:
		t.Kind, t.N = 't', v.UnixMicro()
		if v.IsZero() {
			t.Kind = 'z'
		}
	}
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken parses a token made by EncodePageToken for the same
// tenant, filter and order; anything else is an InvalidArgument on page_token.
func DecodePageToken(tenantID, filter, order, token string) (*Cursor, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) > 1024 {
		return nil, Invalid("page_token", "malformed page token")
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return nil, Invalid("page_token", "malformed page token")
	}
	if t.Fingerprint != queryFingerprint(tenantID, filter, order) {
		return nil, Invalid("page_token", "the page token was issued for a different filter or order_by")
	}
	c := &Cursor{ID: t.ID}
	switch t.Kind {
	case 's':
		c.Value = t.S
	case 'i':
		c.Value = t.N
	case 'm':
		c.Value = Money(t.N)
	case 'f':
		c.Value = t.F
	case 't':
		c.Value = time.UnixMicro(t.N).UTC()
	case 'z':
		c.Value = time.Time{}
	default:
		return nil, Invalid("page_token", "malformed page token")
	}
	return c, nil
}
