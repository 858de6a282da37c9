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
// (domain.CustomerFields, domain.CustomerOrderFields) to columns. It is the
// whitelist of the only SQL this store builds at run time: a name not in it
// never reaches a query.
var customerColumn = map[string]string{
	"external_id":         "external_id",
	"kind":                "kind",
	"display_name":        "display_name",
	"email":               "email",
	"country":             "country",
	"region":              "region",
	"city":                "city",
	"industry":            "industry",
	"company_size":        "company_size",
	"age_band":            "age_band",
	"gender":              "gender",
	"acquisition_channel": "acquisition_channel",
	"create_time":         "create_time",
	"update_time":         "update_time",
	"first_purchase_time": "first_purchase_time",
	"last_purchase_time":  "last_purchase_time",
	"purchase_days":       "purchase_days",
	"orders":              "orders",
	"total_spend":         "total_spend",
}

// assessmentFields are the listing fields that come from a customer's
// stored assessment. This store keeps no assessments yet (it does not
// implement domain.AssessmentStore), so every customer has the zero
// assessment, as in store/memory: these fields filter and sort as the zero
// assessment's values, bound as typed constants (a listing ordered by one
// is ordered by id).
var assessmentFields = map[string]bool{
	"predicted_value": true, "value_at_risk": true, "p_alive": true, "churn_level": true, "rfm_segment": true,
	"lifecycle_stage": true, "recency_score": true, "frequency_score": true, "monetary_score": true,
}

// sqlType is the SQL type of each field type's values.
var sqlType = map[domain.FieldType]string{
	domain.FieldString: "text", domain.FieldInt: "bigint", domain.FieldMoney: "bigint",
	domain.FieldFloat: "float8", domain.FieldTime: "timestamptz",
}

// supported reports whether the builder knows field; the conformance suite
// lists every field of the domain, so a field added there and not here
// fails it instead of reaching a query.
func supported(field string) bool {
	_, ok := customerColumn[field]
	return ok || assessmentFields[field]
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
//	SELECT ... FROM customers WHERE tenant_id = $1 [AND col op $n]...
//	  [AND (col, id) > ($v, $id)] ORDER BY col, id LIMIT $k
//
// with < and DESC for a descending order. Every order has an index
// (tenant_id, col, id), which the keyset condition turns into a range scan
// in the listing's direction.
func listQuery(tenant string, q domain.CustomerQuery) (string, []any) {
	var sql strings.Builder
	args := []any{tenant}
	param := func(v any) string {
		args = append(args, bindValue(v))
		return "$" + strconv.Itoa(len(args))
	}
	// expr is the SQL of a field: its column, or the zero assessment's
	// value; typed is a parameter of the field's type.
	expr := func(field string) string {
		if col, ok := customerColumn[field]; ok {
			return col
		}
		return param((&domain.Customer{}).FieldValue(field)) + "::" + sqlType[fieldType(field)]
	}
	typed := func(field string, v any) string { return param(v) + "::" + sqlType[fieldType(field)] }
	sql.WriteString(qListCustomers)
	for _, c := range q.Filter {
		sql.WriteString(" AND " + expr(c.Field) + " " + sqlOp[c.Op] + " " + typed(c.Field, c.Value))
	}
	col := expr(q.Order.Field)
	cmp, dir := ">", "ASC"
	if q.Order.Desc {
		cmp, dir = "<", "DESC"
	}
	if q.After != nil {
		sql.WriteString(" AND (" + col + ", id) " + cmp + " (" + typed(q.Order.Field, q.After.Value) + ", " + param(q.After.ID) + "::uuid)")
	}
	sql.WriteString(" ORDER BY " + col + " " + dir + ", id " + dir + " LIMIT " + param(int64(q.Limit)))
	return sql.String(), args
}

// ListCustomers returns up to q.Limit customers matching q.Filter in
// (q.Order field, id) order, strictly after q.After.
func (s *Store) ListCustomers(ctx context.Context, tenantID string, q domain.CustomerQuery) ([]domain.Customer, error) {
	q, err := checkQuery(q)
	if err != nil {
		return nil, err
	}
	if !supported(q.Order.Field) {
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
