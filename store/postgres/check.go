package postgres

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/potentialhq/potential/domain"
)

// The checks in this file reject, before anything is sent, what PostgreSQL
// cannot store (NUL bytes and invalid UTF-8 in text, non-finite numbers in
// JSON, times outside the years 1-9999 that RFC 3339 can write), naming the
// field at fault. store/memory runs the same checks with the same fields and
// errors, so that both stores fail alike.

// parseID returns the canonical form of a UUID, or false.
func parseID(s string) (string, bool) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", false
	}
	return u.String(), true
}

// checkText reports whether s can be stored as PostgreSQL text.
func checkText(s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: must be valid UTF-8 without NUL characters", domain.ErrInvalid)
	}
	return nil
}

// checkTime reports whether t is zero or within the years 1-9999.
func checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fmt.Errorf("%w: time must be within the years 1-9999", domain.ErrInvalid)
	}
	return nil
}

// normTime returns t in UTC with microsecond precision, as PostgreSQL keeps it.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// fieldError names the field that failed a check.
func fieldError(field string, err error) error {
	return domain.Invalid(field, "%v", strings.TrimPrefix(err.Error(), domain.ErrInvalid.Error()+": "))
}

// checkCustomer checks what a customer's client-set fields need to be
// storable; field names are the API's.
func checkCustomer(c *domain.Customer) (field string, err error) {
	texts := []struct {
		field string
		s     string
	}{
		{"external_id", c.ExternalID}, {"kind", string(c.Kind)}, {"display_name", c.DisplayName},
		{"given_name", c.GivenName}, {"family_name", c.FamilyName}, {"company_name", c.CompanyName},
		{"email", c.Email}, {"phone", c.Phone}, {"country", c.Country}, {"region", c.Region},
		{"city", c.City}, {"age_band", string(c.AgeBand)}, {"gender", string(c.Gender)},
		{"industry", c.Industry}, {"company_size", string(c.CompanySize)},
		{"acquisition_channel", c.AcquisitionChannel},
		{"qualification.authority", string(c.Qualification.Authority)}, {"qualification.need", c.Qualification.Need},
	}
	for _, t := range texts {
		if err := checkText(t.s); err != nil {
			return t.field, err
		}
	}
	for _, ch := range c.AcceptedChannels {
		if err := checkText(string(ch)); err != nil {
			return "communication.accepted_channels", err
		}
	}
	if err := checkTime(c.Qualification.DecisionTime); err != nil {
		return "qualification.decision_time", err
	}
	for k, a := range c.Attributes {
		if err := checkText(k); err != nil {
			return "attributes", err
		}
		switch a.Kind {
		case domain.AttrString:
			err = checkText(a.String)
		case domain.AttrNumber:
			if math.IsNaN(a.Number) || math.IsInf(a.Number, 0) {
				err = fmt.Errorf("%w: value of %q must be a finite number", domain.ErrInvalid, k)
			}
		case domain.AttrBool:
		case domain.AttrTime:
			err = checkTime(a.Time)
		default:
			err = fmt.Errorf("%w: value of %q has no type", domain.ErrInvalid, k)
		}
		if err != nil {
			return "attributes", err
		}
	}
	return "", nil
}

// checkRef checks a customer reference of a batch item: an id that is not a
// UUID can never be found, and an external id may be used to create a customer.
func checkRef(r domain.CustomerRef) error {
	return checkText(r.ExternalID)
}

// checkCursor checks a keyset cursor against the type of the order field.
func checkCursor(order domain.Order, after *domain.Cursor) error {
	if after == nil {
		return nil
	}
	if _, ok := parseID(after.ID); !ok {
		return domain.Invalid("page_token", "malformed page token")
	}
	if !valueFits(domain.CustomerOrderFields[order.Field], after.Value) {
		return domain.Invalid("page_token", "malformed page token")
	}
	return nil
}

// valueFits reports whether v has the Go type of field type ft and is storable.
func valueFits(ft domain.FieldType, v any) bool {
	switch ft {
	case domain.FieldString:
		s, ok := v.(string)
		return ok && checkText(s) == nil
	case domain.FieldInt:
		_, ok := v.(int64)
		return ok
	case domain.FieldMoney:
		_, ok := v.(domain.Money)
		return ok
	case domain.FieldFloat:
		f, ok := v.(float64)
		return ok && !math.IsNaN(f) // NaN has no place in an order
	case domain.FieldTime:
		t, ok := v.(time.Time)
		return ok && checkTime(t) == nil
	}
	return false
}

// checkQuery validates a customer query and returns it with a default order
// and times at microsecond precision.
func checkQuery(q domain.CustomerQuery) (domain.CustomerQuery, error) {
	if q.Order.Field == "" {
		q.Order.Field = "create_time"
	}
	if _, ok := domain.CustomerOrderFields[q.Order.Field]; !ok {
		return q, domain.Invalid("order_by", "cannot order by %q", q.Order.Field)
	}
	if q.Limit <= 0 {
		return q, domain.Invalid("page_size", "must be positive")
	}
	if err := checkCursor(q.Order, q.After); err != nil {
		return q, err
	}
	if q.After != nil {
		a := *q.After
		a.ID, _ = parseID(a.ID)
		if t, ok := a.Value.(time.Time); ok {
			a.Value = normTime(t)
		}
		q.After = &a
	}
	f := make(domain.Filter, len(q.Filter))
	for i, c := range q.Filter {
		ft, ok := domain.CustomerFields[c.Field]
		if !ok {
			return q, domain.Invalid("filter", "unknown field %q", c.Field)
		}
		switch c.Op {
		case domain.OpEq, domain.OpNe, domain.OpLt, domain.OpLe, domain.OpGt, domain.OpGe:
		default:
			return q, domain.Invalid("filter", "unknown operator %q", c.Op)
		}
		if !valueFits(ft, c.Value) {
			return q, domain.Invalid("filter", "value for %s has the wrong type %T", c.Field, c.Value)
		}
		if t, ok := c.Value.(time.Time); ok {
			c.Value = normTime(t)
		}
		if c.Field == "segment" {
			id, ok := parseID(c.Value.(string))
			if !ok || (c.Op != domain.OpEq && c.Op != domain.OpNe) {
				return q, domain.Invalid("filter", "segment takes = or != and a segment id, not %s %q", c.Op, c.Value)
			}
			c.Value = id
		}
		f[i] = c
	}
	q.Filter = f
	return q, nil
}
