package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

// customerColumn maps the API's filterable and orderable field names
// (domain.CustomerFields, domain.CustomerOrderFields) to columns of the
// listing's customers c and assessments a. With codedColumn it is the
// whitelist of the only SQL this store builds at run time: a name in
// neither never reaches a query.
var customerColumn = map[string]string{
	"external_id":         "c.external_id",
	"kind":                "c.kind",
	"display_name":        "c.display_name",
	"email":               "c.email",
	"country":             "c.country",
	"region":              "c.region",
	"city":                "c.city",
	"industry":            "c.industry",
	"company_size":        "c.company_size",
	"age_band":            "c.age_band",
	"gender":              "c.gender",
	"acquisition_channel": "c.acquisition_channel",
	"create_time":         "c.create_time",
	"update_time":         "c.update_time",
	"first_purchase_time": "c.first_purchase_time",
	"last_purchase_time":  "c.last_purchase_time",
	"purchase_days":       "c.purchase_days",
	"orders":              "c.orders",
	"total_spend":         "c.total_spend",
	"predicted_value":     "a.predicted_value",
	"value_at_risk":       "a.value_at_risk",
	"p_alive":             "a.p_alive",
	"recency_score":       "a.r",
	"frequency_score":     "a.f",
	"monetary_score":      "a.m",
}

// codedColumn maps the string fields that are stored as codes to the SQL
// of their code and the name of every code (the field's value in
// domain.Customer.FieldValue). A condition on one is translated into the
// codes whose names satisfy it, so that the stored smallint is compared,
// never a string: churn_level = "high" becomes a.churn_level = ANY('{3}').
var codedColumn = map[string]struct {
	sql   string
	names map[int16]string
}{
	"churn_level":     {"a.churn_level", churnNames},
	"lifecycle_stage": {"a.stage", stageNames},
	// A customer whose cell is not valid (not assessed, no purchase, no
	// model) has no segment, "": code -1.
	"rfm_segment": {"(CASE WHEN a.r > 0 AND a.f > 0 AND a.m > 0 THEN a.segment ELSE -1 END)", segmentNames},
}

// relationCondition returns the SQL of a condition on a customer's grade
// (its customer_grades row; "" without one) or on its membership of a
// segment (segment_members), neither a column of the listing. Each is a
// semi-join (EXISTS) or an anti-join (NOT EXISTS) the planner runs from
// whichever side is cheaper: probing the members' primary key or
// segment_members_customer, the grades' primary key, or reading
// customer_grades_grade (tenant_id, grade, customer_id) for a grade. A
// grade compared by < <= > >= (never sent by ParseFilter, which allows
// only = and != on strings) compares the customer's grade as text.
func relationCondition(c domain.Condition, param func(any) string) (string, bool) {
	switch c.Field {
	case "segment":
		in := "EXISTS (SELECT 1 FROM segment_members m WHERE m.tenant_id = $1 AND m.segment_id = " + param(c.Value) + "::uuid AND m.customer_id = c.id)"
		if c.Op == domain.OpNe {
			in = "NOT " + in
		}
		return in, true
	case "grade":
		v := c.Value.(string)
		if c.Op == domain.OpEq || c.Op == domain.OpNe {
			in := "EXISTS (SELECT 1 FROM customer_grades g WHERE g.tenant_id = $1 AND g.customer_id = c.id)" // graded
			if v != "" {
				in = "EXISTS (SELECT 1 FROM customer_grades g WHERE g.tenant_id = $1 AND g.grade = " + param(v) + "::text AND g.customer_id = c.id)"
			}
			if (c.Op == domain.OpNe) == (v != "") {
				in = "NOT " + in
			}
			return in, true
		}
		return "COALESCE((SELECT g.grade FROM customer_grades g WHERE g.tenant_id = $1 AND g.customer_id = c.id), '') " +
			sqlOp[c.Op] + " " + param(v) + "::text", true
	}
	return "", false
}

// supported reports whether the builder knows field; the conformance suite
// lists every field of the domain, so a field added there and not here
// fails it instead of reaching a query.
func supported(field string) bool {
	_, ok := customerColumn[field]
	_, coded := codedColumn[field]
	return ok || coded || field == "grade" || field == "segment"
}

// codesWhere returns the codes whose names satisfy "name op v", in
// domain.Compare's order (byte-wise, as store/memory compares the names).
func codesWhere(names map[int16]string, op domain.Op, v any) []int16 {
	out := []int16{}
	for code, name := range names {
		r := domain.Compare(name, v)
		if (op == domain.OpEq && r == 0) || (op == domain.OpNe && r != 0) || (op == domain.OpLt && r < 0) ||
			(op == domain.OpLe && r <= 0) || (op == domain.OpGt && r > 0) || (op == domain.OpGe && r >= 0) {
			out = append(out, code)
		}
	}
	return out
}

// sqlType is the SQL type of each field type's values.
var sqlType = map[domain.FieldType]string{
	domain.FieldString: "text", domain.FieldInt: "bigint", domain.FieldMoney: "bigint",
	domain.FieldFloat: "float8", domain.FieldTime: "timestamptz",
}

// sqlOp maps the domain's comparison operators to SQL's.
var sqlOp = map[domain.Op]string{
	domain.OpEq: "=", domain.OpNe: "<>", domain.OpLt: "<", domain.OpLe: "<=", domain.OpGt: ">", domain.OpGe: ">=",
}

// bindValue converts a filter or cursor value to its parameter: times
// compare as stored (a zero time is -infinity), money as bigint.
func bindValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return sortTime(x)
	case domain.Money:
		return int64(x)
	}
	return v
}

// listQuery builds the statement and parameters of one page:
//
//	SELECT ... FROM customers c JOIN assessments a ... WHERE c.tenant_id = $1
//	  [AND col op $n]... [AND (col, id) > ($v, $id)] ORDER BY col, id LIMIT $k
//
// with < and DESC for a descending order. Every order but p_alive has an
// index (tenant_id, col, id) — of customers, or of assessments for the
// assessment fields, whose id column is then a.customer_id — which the
// keyset condition turns into a range scan in the listing's direction (an
// order by p_alive sorts the tenant's assessments; see the migration).
func listQuery(tenant string, q domain.CustomerQuery) (string, []any) {
	var sql strings.Builder
	args := []any{tenant}
	param := func(v any) string {
		args = append(args, bindValue(v))
		return "$" + strconv.Itoa(len(args))
	}
	typed := func(field string, v any) string { return param(v) + "::" + sqlType[fieldType(field)] }
	sql.WriteString(qListCustomers)
	for _, c := range q.Filter {
		if rel, ok := relationCondition(c, param); ok {
			sql.WriteString(" AND " + rel)
			continue
		}
		if coded, ok := codedColumn[c.Field]; ok {
			sql.WriteString(" AND " + coded.sql + " = ANY(" + param(codesWhere(coded.names, c.Op, c.Value)) + "::smallint[])")
			continue
		}
		sql.WriteString(" AND " + customerColumn[c.Field] + " " + sqlOp[c.Op] + " " + typed(c.Field, c.Value))
	}
	col := customerColumn[q.Order.Field]
	id := "c.id"
	if strings.HasPrefix(col, "a.") {
		id = "a.customer_id"
	}
	cmp, dir := ">", "ASC"
	if q.Order.Desc {
		cmp, dir = "<", "DESC"
	}
	if q.After != nil {
		sql.WriteString(" AND (" + col + ", " + id + ") " + cmp + " (" + typed(q.Order.Field, q.After.Value) + ", " + param(q.After.ID) + "::uuid)")
	}
	sql.WriteString(" ORDER BY " + col + " " + dir + ", " + id + " " + dir + " LIMIT " + param(int64(q.Limit)))
	return sql.String(), args
}

// ListCustomers returns up to q.Limit customers matching q.Filter in
// (q.Order field, id) order, strictly after q.After.
func (s *Store) ListCustomers(ctx context.Context, tenantID string, q domain.CustomerQuery) ([]domain.Customer, error) {
	q, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	if !supported(q.Order.Field) || codedColumn[q.Order.Field].sql != "" {
		return nil, domain.Invalid("order_by", "cannot order by %q", q.Order.Field)
	}
	for _, c := range q.Filter {
		if !supported(c.Field) {
			return nil, domain.Invalid("filter", "cannot filter on %q", c.Field)
		}
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, nil
	}
	sql, args := listQuery(sc.tenant, q)
	var out []domain.Customer
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(sql, args...)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = collectCustomers(rows)
		return err
	})
	return out, err
}

// fieldType is the type of a filterable or orderable field.
func fieldType(field string) domain.FieldType {
	if ft, ok := domain.CustomerFields[field]; ok {
		return ft
	}
	return domain.CustomerOrderFields[field]
}
