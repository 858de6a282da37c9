package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/rfm"
)

// The value models' storage (domain.AssessmentStore). Every customer has a
// row in assessments from its creation on (see
// migrations/0002_assessments.sql): storing assessments is an UPDATE of
// existing rows, which skips customers deleted meanwhile, records
// lifecycle transitions under the rows' locks, and keeps the listing
// indexes of assessments complete.

var _ domain.AssessmentStore = (*Store)(nil)

// inputBatch is the number of inputs AssessmentInputs hands over at once.
const inputBatch = 5000

// segmentSlugs are the stored codes of the RFM segments: code i is
// segmentSlugs[i]. The list only grows (see the migration's comment).
var segmentSlugs = []string{"unknown", "champions", "loyal", "potential_loyalists", "new", "promising",
	"need_attention", "about_to_sleep", "at_risk", "cant_lose_them", "hibernating", "lost"}

// segmentCode and segmentOf translate between rfm.Segment and its code.
var (
	segmentCode = map[rfm.Segment]int16{rfm.Unknown: 0}
	segmentOf   = map[int16]rfm.Segment{0: rfm.Unknown}
)

// The names of the coded listing fields, per code (see codedColumn).
var (
	churnNames   = map[int16]string{}
	stageNames   = map[int16]string{}
	segmentNames = map[int16]string{-1: ""}
)

func init() {
	for _, seg := range rfm.Segments() {
		if i := slices.Index(segmentSlugs, seg.Slug()); i > 0 {
			segmentCode[seg], segmentOf[int16(i)] = int16(i), seg
		}
	}
	for i, slug := range segmentSlugs {
		segmentNames[int16(i)] = slug
	}
	for l := domain.ChurnNone; l <= domain.ChurnHigh; l++ {
		churnNames[int16(l)] = l.String()
	}
	for st := domain.StageUnknown; st <= domain.StageReactivated; st++ {
		stageNames[int16(st)] = st.String()
	}
}

// checkAssessment reports what of a cannot be stored: a malformed customer
// id, no or an unstorable assessment time, scores, levels, stages and
// segments outside their ranges, non-finite numbers (they have no place
// in an order) and silences beyond 32 bits. store/memory checks the same.
func checkAssessment(a *domain.Assessment) (field string, err error) {
	invalid := func(f, what string) (string, error) {
		return f, fmt.Errorf("%w: %s", domain.ErrInvalid, what)
	}
	if _, ok := parseID(a.CustomerID); !ok {
		return invalid("customer_id", "must be a UUID")
	}
	if a.AssessTime.IsZero() {
		return invalid("assess_time", "required")
	}
	if err := checkTime(a.AssessTime); err != nil {
		return "assess_time", err
	}
	if a.ModelVersion < 0 {
		return invalid("model_version", "must not be negative")
	}
	for _, s := range []int{a.RFM.R, a.RFM.F, a.RFM.M} {
		if s < 0 || s > 5 {
			return invalid("rfm", "scores must be 0-5")
		}
	}
	if _, ok := segmentCode[a.Segment]; !ok {
		return invalid("segment", "unknown segment")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"p_alive", a.PAlive}, {"expected_purchases", a.ExpectedPurchases}, {"cadence_days", a.CadenceDays}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return invalid(f.name, "must be a finite number")
		}
	}
	if a.Churn < domain.ChurnNone || a.Churn > domain.ChurnHigh {
		return invalid("churn_level", "unknown level")
	}
	if a.Stage < domain.StageUnknown || a.Stage > domain.StageReactivated {
		return invalid("stage", "unknown stage")
	}
	if a.SilenceDays < math.MinInt32 || a.SilenceDays > math.MaxInt32 {
		return invalid("silence_days", "out of range")
	}
	return "", nil
}

// assessmentRow scans assessmentColumns, which an outer join may make NULL.
type assessmentRow struct {
	assessTime                             pgtype.Timestamptz
	version, historical, spend, pred, risk pgtype.Int8
	r, f, m, segment, churn, stage         pgtype.Int2
	reasons, silence                       pgtype.Int4
	alive, purchases, cadence              pgtype.Float8
}

// dest returns the scan destinations of assessmentColumns.
func (a *assessmentRow) dest() []any {
	return []any{&a.assessTime, &a.version, &a.r, &a.f, &a.m, &a.segment, &a.historical, &a.alive, &a.purchases,
		&a.spend, &a.pred, &a.risk, &a.churn, &a.reasons, &a.stage, &a.silence, &a.cadence}
}

// assessment returns the stored assessment of customer id, the zero
// assessment if it has none.
func (a *assessmentRow) assessment(id string) (domain.Assessment, error) {
	if !a.assessTime.Valid {
		return domain.Assessment{}, nil
	}
	seg, ok := segmentOf[a.segment.Int16]
	if !ok {
		return domain.Assessment{}, fmt.Errorf("postgres: customer %s: unknown segment code %d", id, a.segment.Int16)
	}
	return domain.Assessment{
		CustomerID: id, ModelVersion: a.version.Int64, AssessTime: goTime(a.assessTime),
		RFM:     rfm.Cell{R: int(a.r.Int16), F: int(a.f.Int16), M: int(a.m.Int16)},
		Segment: seg, HistoricalValue: domain.Money(a.historical.Int64), PAlive: a.alive.Float64,
		ExpectedPurchases: a.purchases.Float64, ExpectedSpend: domain.Money(a.spend.Int64),
		PredictedValue: domain.Money(a.pred.Int64), ValueAtRisk: domain.Money(a.risk.Int64),
		Churn: domain.ChurnLevel(a.churn.Int16), Reasons: domain.ChurnReason(uint32(a.reasons.Int32)),
		Stage: domain.LifecycleStage(a.stage.Int16), SilenceDays: int64(a.silence.Int32), CadenceDays: a.cadence.Float64,
	}, nil
}

// stream sends sql in scope sc, after the statement setup if any, and
// hands each row to each, without retrying (the rows have been handed
// on). An error each returns is returned as it is; the others are
// translated.
func (s *Store) stream(ctx context.Context, sc scope, setup, sql string, args []any, each func(rows pgx.Rows) error) error {
	b := &pgx.Batch{}
	sc.queue(b)
	if setup != "" {
		b.Queue(setup)
	}
	b.Queue(sql, args...)
	br := s.pool.SendBatch(ctx, b)
	var cbErr error
	_, err := br.Exec()
	if err == nil && setup != "" {
		_, err = br.Exec()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			for rows.Next() {
				if cbErr = each(rows); cbErr != nil {
					break
				}
			}
			rows.Close()
			err = rows.Err()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if cbErr != nil {
		return cbErr
	}
	return translate(err)
}

// day is the UTC calendar day of t as a date parameter.
func day(t time.Time) pgtype.Date {
	t = t.UTC()
	return pgtype.Date{Time: time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), Valid: true}
}

// PurchaseSummaries calls fn for every customer of the tenant with a
// purchase on or before end's UTC day, with its first and last purchase
// days (UTC midnight), days, total and first day's spend up to that day.
// When no purchase day of the tenant is after end's day (the usual fit,
// as of now) it reads the customers' PurchaseStats, which then equal the
// aggregates of purchase_days; otherwise it aggregates purchase_days up
// to end's day.
func (s *Store) PurchaseSummaries(ctx context.Context, tenantID string, end time.Time, fn func(domain.PurchaseSummary) error) error {
	if err := checkTime(end); err != nil {
		return fieldError("observation_end", err)
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil
	}
	var latest pgtype.Timestamptz
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLastPurchase, sc.tenant)
	}, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&latest)
	})
	if err != nil {
		return err
	}
	q, args := qSummariesFromDays, []any{sc.tenant, day(end)}
	if lt := goTime(latest); lt.IsZero() || !day(lt).Time.After(day(end).Time) {
		q, args = qSummariesFromStats, []any{sc.tenant}
	}
	var (
		ps          domain.PurchaseSummary
		first, last pgtype.Date
		total, fd   int64
		days        int64
	)
	return s.stream(ctx, sc, "", q, args, func(rows pgx.Rows) error {
		if err := rows.Scan(&ps.CustomerID, &first, &last, &days, &total, &fd); err != nil {
			return translate(err)
		}
		ps.First, ps.Last, ps.Days = first.Time, last.Time, int(days)
		ps.TotalSpend, ps.FirstDaySpend = domain.Money(total), domain.Money(fd)
		return fn(ps)
	})
}

// PurchaseDaysBetween returns, per customer id, the number of distinct UTC
// purchase days after from's day and up to to's day.
func (s *Store) PurchaseDaysBetween(ctx context.Context, tenantID string, from, to time.Time) (map[string]int, error) {
	for _, t := range []time.Time{from, to} {
		if err := checkTime(t); err != nil {
			return nil, fieldError("time", err)
		}
	}
	out := map[string]int{}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return out, nil
	}
	var id string
	var n int64
	err := s.stream(ctx, sc, "", qPurchaseDaysBetween, []any{sc.tenant, day(from), day(to)}, func(rows pgx.Rows) error {
		if err := rows.Scan(&id, &n); err != nil {
			return translate(err)
		}
		out[id] = int(n)
		return nil
	})
	return out, err
}

// SaveValueModel stores m as the tenant's next version (the latest plus
// one; retried when a concurrent save took it) and returns it with Version
// set and times in UTC at microsecond precision, as GetValueModel returns
// it. ErrNotFound if the tenant does not exist.
func (s *Store) SaveValueModel(ctx context.Context, m domain.ValueModel) (domain.ValueModel, error) {
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"fit_time", m.FitTime}, {"observation_end", m.ObservationEnd}, {"holdout_end", m.HoldoutEnd}} {
		if err := checkTime(f.t); err != nil {
			return domain.ValueModel{}, fieldError(f.name, err)
		}
	}
	sc, ok := tenantScope(m.TenantID)
	if !ok {
		return domain.ValueModel{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, m.TenantID)
	}
	m.TenantID = sc.tenant
	m.FitTime, m.ObservationEnd, m.HoldoutEnd = normTime(m.FitTime), normTime(m.ObservationEnd), normTime(m.HoldoutEnd)
	doc, err := encodeModel(&m)
	if err != nil {
		return domain.ValueModel{}, fmt.Errorf("%w: value model: %v", domain.ErrInvalid, err)
	}
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSaveValueModel, sc.tenant, sortTime(m.FitTime), sortTime(m.ObservationEnd), doc)
	}, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(&m.Version)
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" {
			return errRetry
		}
		return err
	})
	if err != nil {
		return domain.ValueModel{}, err
	}
	return m, nil
}

// GetValueModel returns the tenant's latest model; ErrNotFound if none.
func (s *Store) GetValueModel(ctx context.Context, tenantID string) (domain.ValueModel, error) {
	notFound := fmt.Errorf("%w: no value model", domain.ErrNotFound)
	sc, ok := tenantScope(tenantID)
	if !ok {
		return domain.ValueModel{}, notFound
	}
	m := domain.ValueModel{TenantID: sc.tenant}
	var doc []byte
	var fit, end pgtype.Timestamptz
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetValueModel, sc.tenant)
	}, func(br pgx.BatchResults) error {
		if err := br.QueryRow().Scan(&m.Version, &fit, &end, &doc); err != nil {
			return err
		}
		m.FitTime, m.ObservationEnd = goTime(fit), goTime(end)
		return decodeModel(doc, &m)
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.ValueModel{}, notFound
	}
	if err != nil {
		return domain.ValueModel{}, err
	}
	return m, nil
}

// inputRow reads rows of inputColumns. Its fast path decodes the binary
// values itself, several times faster than Scan, which matters when a
// tenant's million customers are streamed: it is taken when every column
// has the type it expects in the binary format (text in either), else Scan
// is.
type inputRow struct {
	checked, fast                                       bool
	kind                                                string
	created, first, last                                pgtype.Timestamptz
	spend, firstDay, refunded, margin, recent, baseline int64
	stage                                               int32
}

// inputTypes are the types of inputColumns, by OID.
var inputTypes = []uint32{pgtype.UUIDOID, pgtype.TextOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID, pgtype.TimestamptzOID,
	pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID,
	pgtype.Float8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int4OID}

func (r *inputRow) scan(rows pgx.Rows, in *domain.AssessmentInput) error {
	if !r.checked {
		r.checked, r.fast = true, true
		fds := rows.FieldDescriptions()
		if len(fds) != len(inputTypes) {
			r.fast = false
		}
		for i := range fds {
			// pgx asks for text in the text format: the same bytes.
			binaryOrText := fds[i].Format == pgx.BinaryFormatCode || inputTypes[i] == pgtype.TextOID
			if !r.fast || !binaryOrText || fds[i].DataTypeOID != inputTypes[i] {
				r.fast = false
				break
			}
		}
	}
	if r.fast {
		return r.decode(rows.RawValues(), in)
	}
	p := &in.Purchases
	err := rows.Scan(&in.CustomerID, &r.kind, &r.created, &r.first, &r.last, &p.PurchaseDays, &p.Orders, &p.Refunds,
		&r.spend, &r.firstDay, &r.refunded, &r.margin, &p.MedianGapDays, &p.LastGapDays, &in.Recent, &in.Baseline, &r.stage)
	if err != nil {
		return translate(err)
	}
	in.Kind, in.CreateTime, in.PreviousStage, in.OpenComplaints = domain.CustomerKind(r.kind), goTime(r.created), domain.LifecycleStage(r.stage), 0
	p.FirstPurchaseTime, p.LastPurchaseTime = goTime(r.first), goTime(r.last)
	p.TotalSpend, p.FirstDaySpend, p.RefundTotal, p.TotalMargin = domain.Money(r.spend), domain.Money(r.firstDay), domain.Money(r.refunded), domain.Money(r.margin)
	return nil
}

// errDecode reports a value of an unexpected size.
var errDecode = errors.New("postgres: unexpected binary value")

// pgEpoch is the origin of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// decode reads the binary values of one row of inputColumns: a uuid, a
// text, three timestamptz (microseconds since 2000-01-01; ±infinity the
// extremes of int64, both the zero time here), eight-byte integers and
// floats in network order, and a four-byte stage.
func (r *inputRow) decode(v [][]byte, in *domain.AssessmentInput) error {
	for i, b := range v {
		want := 8
		switch inputTypes[i] {
		case pgtype.UUIDOID:
			want = 16
		case pgtype.TextOID:
			want = len(b)
		case pgtype.Int4OID:
			want = 4
		}
		if b == nil || len(b) != want {
			return fmt.Errorf("%w: column %d", errDecode, i)
		}
	}
	i64 := func(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }
	ts := func(b []byte) time.Time {
		us := i64(b)
		if us == math.MaxInt64 || us == math.MinInt64 {
			return time.Time{}
		}
		return time.UnixMicro(pgEpoch + us).UTC()
	}
	in.CustomerID = uuid.UUID(v[0]).String()
	switch string(v[1]) { // no allocation: the compiler compares in place
	case string(domain.KindCustomer):
		in.Kind = domain.KindCustomer
	case string(domain.KindLead):
		in.Kind = domain.KindLead
	default:
		in.Kind = domain.CustomerKind(v[1])
	}
	in.CreateTime = ts(v[2])
	p := &in.Purchases
	p.FirstPurchaseTime, p.LastPurchaseTime = ts(v[3]), ts(v[4])
	p.PurchaseDays, p.Orders, p.Refunds = i64(v[5]), i64(v[6]), i64(v[7])
	p.TotalSpend, p.FirstDaySpend, p.RefundTotal, p.TotalMargin = domain.Money(i64(v[8])), domain.Money(i64(v[9])), domain.Money(i64(v[10])), domain.Money(i64(v[11]))
	p.MedianGapDays, p.LastGapDays = math.Float64frombits(binary.BigEndian.Uint64(v[12])), i64(v[13])
	in.Recent, in.Baseline = i64(v[14]), i64(v[15])
	in.PreviousStage, in.OpenComplaints = domain.LifecycleStage(int32(binary.BigEndian.Uint32(v[16]))), 0
	return nil
}

// AssessmentInputs calls fn with batches of at most 5,000 inputs as of now:
// for the customers ids (unknown and malformed ids are skipped), or, when
// ids is nil, for every customer of the tenant, streamed from one query
// (the tenant's interactions of the last 120 days are counted by one GROUP
// BY; PreviousStage is not read, see qInputsAll). Interactions in
// [now-30d, now) are Recent, in [now-120d, now-30d) Baseline;
// OpenComplaints is left 0 (the service adds them from OpenComplaints).
// The batch's slice is reused after fn returns: fn must copy what it keeps.
func (s *Store) AssessmentInputs(ctx context.Context, tenantID string, ids []string, now time.Time, fn func([]domain.AssessmentInput) error) error {
	if err := checkTime(now); err != nil {
		return fieldError("now", err)
	}
	sc, ok := tenantScope(tenantID)
	if !ok || (ids != nil && len(ids) == 0) {
		return nil
	}
	now = normTime(now)
	base, recent := now.Add(-120*24*time.Hour), now.Add(-30*24*time.Hour)
	setup, q, args := qMergePlan, qInputsAll, []any{sc.tenant, base, recent, now}
	if ids != nil {
		canon := make([]string, 0, len(ids))
		for _, id := range ids {
			if id, ok := parseID(id); ok {
				canon = append(canon, id)
			}
		}
		if len(canon) == 0 {
			return nil
		}
		setup, q, args = qPointPlan, qInputsOf, []any{sc.tenant, distinct(canon), base, recent, now}
	}
	buf := make([]domain.AssessmentInput, 0, min(inputBatch, max(len(ids), 64)))
	var r inputRow
	err := s.stream(ctx, sc, setup, q, args, func(rows pgx.Rows) error {
		buf = append(buf, domain.AssessmentInput{})
		if err := r.scan(rows, &buf[len(buf)-1]); err != nil {
			return err
		}
		if len(buf) == inputBatch {
			err := fn(buf)
			buf = buf[:0]
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// assessmentArrays are the column arrays of qPutAssessments.
type assessmentArrays struct {
	ids                                     []string
	times                                   []time.Time
	versions, historical, spend, pred, risk []int64
	r, f, m, segment, churn, stage          []int16
	reasons, silence                        []int32
	alive, purchases, cadence               []float64
}

func (a *assessmentArrays) add(x *domain.Assessment) {
	a.ids, a.times, a.versions = append(a.ids, x.CustomerID), append(a.times, x.AssessTime), append(a.versions, x.ModelVersion)
	a.r, a.f, a.m = append(a.r, int16(x.RFM.R)), append(a.f, int16(x.RFM.F)), append(a.m, int16(x.RFM.M))
	a.segment, a.historical = append(a.segment, segmentCode[x.Segment]), append(a.historical, int64(x.HistoricalValue))
	a.alive, a.purchases, a.spend = append(a.alive, x.PAlive), append(a.purchases, x.ExpectedPurchases), append(a.spend, int64(x.ExpectedSpend))
	a.pred, a.risk = append(a.pred, int64(x.PredictedValue)), append(a.risk, int64(x.ValueAtRisk))
	a.churn, a.reasons, a.stage = append(a.churn, int16(x.Churn)), append(a.reasons, int32(x.Reasons)), append(a.stage, int16(x.Stage))
	a.silence, a.cadence = append(a.silence, int32(x.SilenceDays)), append(a.cadence, x.CadenceDays)
}

// PutAssessments replaces the stored assessments of the customers in as
// and records a lifecycle transition (at the assessment time) for each
// whose stage differs from the stored one, all in one statement (see
// qPutAssessments). Of several assessments of one customer the last
// counts; customers that do not exist (any more) are skipped. An
// assessment that cannot be stored fails the call with an *ItemError.
func (s *Store) PutAssessments(ctx context.Context, tenantID string, as []domain.Assessment) error {
	order, err := prepareAssessments(as)
	if err != nil {
		return err
	}
	sc, ok := tenantScope(tenantID)
	if !ok || len(order) == 0 {
		return nil
	}
	var a assessmentArrays
	for _, x := range order {
		a.add(x)
	}
	return s.batch(ctx, sc.writing(), func(b *pgx.Batch) {
		b.Queue(qBulkWrite)
		b.Queue(qPutAssessments, sc.tenant, a.ids, a.times, a.versions, a.r, a.f, a.m, a.segment, a.historical, a.alive,
			a.purchases, a.spend, a.pred, a.risk, a.churn, a.reasons, a.stage, a.silence, a.cadence)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		_, err := br.Exec()
		return err
	})
}

// prepareAssessments checks as and returns the assessments to write, one
// per customer (the last), with canonical ids and normalised times, in id
// order.
func prepareAssessments(as []domain.Assessment) ([]*domain.Assessment, error) {
	last := make(map[string]*domain.Assessment, len(as))
	for i := range as {
		if field, err := checkAssessment(&as[i]); err != nil {
			return nil, &domain.ItemError{Index: i, Field: field, Err: err}
		}
		x := as[i]
		x.CustomerID, _ = parseID(x.CustomerID)
		x.AssessTime = normTime(x.AssessTime)
		last[x.CustomerID] = &x
	}
	out := make([]*domain.Assessment, 0, len(last))
	for _, x := range last {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b *domain.Assessment) int {
		switch {
		case a.CustomerID < b.CustomerID:
			return -1
		case a.CustomerID > b.CustomerID:
			return 1
		}
		return 0
	})
	return out, nil
}

// GetAssessment returns a customer's stored assessment; ErrNotFound if the
// customer has none (or does not exist).
func (s *Store) GetAssessment(ctx context.Context, tenantID, customerID string) (domain.Assessment, error) {
	notFound := fmt.Errorf("%w: no assessment of customer %q", domain.ErrNotFound, customerID)
	sc, ok := tenantScope(tenantID)
	id, idOK := parseID(customerID)
	if !ok || !idOK {
		return domain.Assessment{}, notFound
	}
	var out domain.Assessment
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetAssessment, sc.tenant, id)
	}, func(br pgx.BatchResults) error {
		var a assessmentRow
		if err := br.QueryRow().Scan(a.dest()...); err != nil {
			return err
		}
		var err error
		out, err = a.assessment(id)
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Assessment{}, notFound
	}
	return out, err
}

// AssessmentStats aggregates the tenant's assessed customers with one
// GROUP BY over assessments (by churn level, reasons, stage, R, F and
// segment; the groups are added up here) and the transitions with one over
// lifecycle_transitions.
func (s *Store) AssessmentStats(ctx context.Context, tenantID string) (domain.AssessmentStats, error) {
	st := newStats()
	sc, ok := tenantScope(tenantID)
	if !ok {
		return st, nil
	}
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qAssessmentStats, sc.tenant)
		b.Queue(qTransitionStats, sc.tenant)
	}, func(br pgx.BatchResults) error {
		st = newStats()
		rows, err := br.Query()
		if err != nil {
			return err
		}
		var churn, stage, r, f, seg int16
		var reasons int32
		var n, pred, risk int64
		_, err = pgx.ForEachRow(rows, []any{&churn, &reasons, &stage, &r, &f, &seg, &n, &pred, &risk}, func() error {
			return addGroup(&st, domain.ChurnLevel(churn), domain.ChurnReason(uint32(reasons)), domain.LifecycleStage(stage),
				int(r), int(f), segmentOf[seg], n, domain.Money(pred), domain.Money(risk))
		})
		if err != nil {
			return err
		}
		if rows, err = br.Query(); err != nil {
			return err
		}
		var from, to int16
		_, err = pgx.ForEachRow(rows, []any{&from, &to, &n}, func() error {
			st.Transitions[[2]domain.LifecycleStage{domain.LifecycleStage(from), domain.LifecycleStage(to)}] += n
			return nil
		})
		return err
	})
	if err != nil {
		return domain.AssessmentStats{}, err
	}
	return st, nil
}

// newStats returns empty statistics with their maps made.
func newStats() domain.AssessmentStats {
	return domain.AssessmentStats{Segments: map[rfm.Segment]int64{}, Churn: map[domain.ChurnLevel]domain.ValueCount{},
		Reasons: map[domain.ChurnReason]domain.ValueCount{}, Stages: map[domain.LifecycleStage]int64{},
		Transitions: map[[2]domain.LifecycleStage]int64{}}
}

// addGroup adds n assessed customers with the given churn level, reasons,
// stage, R and F scores and segment, and their summed predicted value and
// value at risk, to st, failing (as store/memory does) when a sum of money
// leaves 64 bits.
func addGroup(st *domain.AssessmentStats, churn domain.ChurnLevel, reasons domain.ChurnReason, stage domain.LifecycleStage,
	r, f int, seg rfm.Segment, n int64, pred, risk domain.Money) error {
	st.Customers += n
	if r >= 1 && r <= 5 && f >= 1 && f <= 5 {
		st.RF[r-1][f-1] += n
	}
	st.Segments[seg] += n
	st.Stages[stage] += n
	add := func(v domain.ValueCount) (domain.ValueCount, error) {
		var err error
		v.Customers += n
		if v.Predicted, err = addMoney(v.Predicted, pred); err != nil {
			return v, err
		}
		v.ValueAtRisk, err = addMoney(v.ValueAtRisk, risk)
		return v, err
	}
	var err error
	if st.Churn[churn], err = add(st.Churn[churn]); err != nil {
		return err
	}
	for _, reason := range domain.ChurnReasons {
		if reasons&reason != 0 {
			if st.Reasons[reason], err = add(st.Reasons[reason]); err != nil {
				return err
			}
		}
	}
	return nil
}

// addMoney returns a+b, or ErrInvalid if the sum leaves 64 bits.
func addMoney(a, b domain.Money) (domain.Money, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, fmt.Errorf("%w: a total leaves the range of 64-bit micro-units", domain.ErrInvalid)
	}
	return s, nil
}

// ListTenants returns every tenant, oldest first (ties by id).
func (s *Store) ListTenants(ctx context.Context) ([]domain.Tenant, error) {
	var out []domain.Tenant
	err := s.batch(ctx, authScope, func(b *pgx.Batch) {
		b.Queue(qListTenants)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Tenant, error) { return scanTenant(row) })
		return err
	})
	if len(out) == 0 {
		out = nil
	}
	return out, err
}
