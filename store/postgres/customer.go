package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/potentialhq/potential/domain"
)

// attribute is the stored JSON form of a custom attribute value: its kind
// and the one value the kind makes meaningful.
type attribute struct {
	Kind  domain.AttributeKind `json:"kind"`
	Value json.RawMessage      `json:"value"`
}

// encodeAttributes returns the jsonb text of a customer's attributes.
func encodeAttributes(m map[string]domain.AttributeValue) (string, error) {
	out := make(map[string]attribute, len(m))
	for k, a := range m {
		var v any
		switch a.Kind {
		case domain.AttrString:
			v = a.String
		case domain.AttrNumber:
			v = a.Number
		case domain.AttrBool:
			v = a.Bool
		case domain.AttrTime:
			v = a.Time.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return "", fmt.Errorf("%w: attribute %q: %v", domain.ErrInvalid, k, err)
		}
		out[k] = attribute{Kind: a.Kind, Value: raw}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeAttributes parses stored attributes; none is nil.
func decodeAttributes(b []byte) (map[string]domain.AttributeValue, error) {
	var in map[string]attribute
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]domain.AttributeValue, len(in))
	for k, a := range in {
		v := domain.AttributeValue{Kind: a.Kind}
		var err error
		switch a.Kind {
		case domain.AttrString:
			err = json.Unmarshal(a.Value, &v.String)
		case domain.AttrNumber:
			// jsonb keeps numbers as exact decimals and may print them
			// without an exponent; ParseFloat rounds any length correctly.
			v.Number, err = strconv.ParseFloat(string(a.Value), 64)
		case domain.AttrBool:
			err = json.Unmarshal(a.Value, &v.Bool)
		case domain.AttrTime:
			var s string
			if err = json.Unmarshal(a.Value, &s); err == nil {
				v.Time, err = time.Parse(time.RFC3339Nano, s)
				v.Time = v.Time.UTC()
			}
		}
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// channelsJSON returns the JSON text of a customer's accepted channels, the
// form the upsert statements unpack into text[].
func channelsJSON(chs []domain.Channel) string {
	if len(chs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(chs)
	return string(b)
}

func channelStrings(chs []domain.Channel) []string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = string(ch)
	}
	return out
}

// clientArgs returns a customer's client-set fields as the parameters
// $3..$24 of the customer statements.
func clientArgs(c *domain.Customer) ([]any, error) {
	attrs, err := encodeAttributes(c.Attributes)
	if err != nil {
		return nil, err
	}
	q := c.Qualification
	return []any{c.ExternalID, string(c.Kind), c.DisplayName, c.GivenName, c.FamilyName, c.CompanyName,
		c.Email, c.Phone, channelStrings(c.AcceptedChannels), c.Country, c.Region, c.City, string(c.AgeBand),
		string(c.Gender), c.Industry, string(c.CompanySize), c.AcquisitionChannel, attrs, int64(q.Budget),
		string(q.Authority), q.Need, nullTime(q.DecisionTime)}, nil
}

// scanCustomer reads a row of customerColumns and assessmentColumns.
func scanCustomer(row pgx.Row) (domain.Customer, error) {
	var c domain.Customer
	var kind, ageBand, gender, companySize, authority string
	var channels []string
	var attrs []byte
	var budget, totalSpend, firstDaySpend, refundTotal, totalMargin int64
	var decision, firstPurchase, lastPurchase, lastInteraction, created, updated pgtype.Timestamptz
	var referredBy *string
	var a assessmentRow
	p, e := &c.Purchases, &c.Engagement
	err := row.Scan(append([]any{&c.TenantID, &c.ID, &c.ExternalID, &kind, &c.DisplayName, &c.GivenName, &c.FamilyName, &c.CompanyName,
		&c.Email, &c.Phone, &channels, &c.Country, &c.Region, &c.City, &ageBand, &gender, &c.Industry, &companySize,
		&c.AcquisitionChannel, &attrs, &budget, &authority, &c.Qualification.Need, &decision,
		&firstPurchase, &lastPurchase, &p.PurchaseDays, &p.Orders, &p.Refunds, &totalSpend, &firstDaySpend,
		&refundTotal, &totalMargin, &p.MedianGapDays, &p.LastGapDays, &e.Interactions, &lastInteraction, &e.ReferralsGiven, &referredBy,
		&created, &updated, &c.Version}, a.dest()...)...)
	if err != nil {
		return domain.Customer{}, err
	}
	if c.Assessment, err = a.assessment(c.ID); err != nil {
		return domain.Customer{}, err
	}
	c.Kind, c.AgeBand, c.Gender, c.CompanySize = domain.CustomerKind(kind), domain.AgeBand(ageBand), domain.Gender(gender), domain.CompanySize(companySize)
	if len(channels) > 0 {
		c.AcceptedChannels = make([]domain.Channel, len(channels))
		for i, ch := range channels {
			c.AcceptedChannels[i] = domain.Channel(ch)
		}
	}
	if c.Attributes, err = decodeAttributes(attrs); err != nil {
		return domain.Customer{}, fmt.Errorf("postgres: customer %s: %w", c.ID, err)
	}
	c.Qualification.Budget, c.Qualification.Authority = domain.Money(budget), domain.Authority(authority)
	c.Qualification.DecisionTime = goTime(decision)
	p.FirstPurchaseTime, p.LastPurchaseTime = goTime(firstPurchase), goTime(lastPurchase)
	p.TotalSpend, p.FirstDaySpend, p.RefundTotal, p.TotalMargin = domain.Money(totalSpend), domain.Money(firstDaySpend), domain.Money(refundTotal), domain.Money(totalMargin)
	e.LastInteractionTime = goTime(lastInteraction)
	if referredBy != nil {
		e.ReferredBy = *referredBy
	}
	c.CreateTime, c.UpdateTime = goTime(created), goTime(updated)
	return c, nil
}

func collectCustomers(rows pgx.Rows) ([]domain.Customer, error) {
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.Customer, error) { return scanCustomer(row) })
	if len(cs) == 0 {
		cs = nil
	}
	return cs, err
}

func customerNotFound(ref domain.CustomerRef) error {
	if ref.ID != "" {
		return fmt.Errorf("%w: customer %q", domain.ErrNotFound, ref.ID)
	}
	return fmt.Errorf("%w: customer with external id %q", domain.ErrNotFound, ref.ExternalID)
}

// CreateCustomer stores c with Version 1 and empty statistics.
func (s *Store) CreateCustomer(ctx context.Context, c domain.Customer) (domain.Customer, error) {
	sc, tenantOK := tenantScope(c.TenantID)
	id, ok := parseID(c.ID)
	if !ok {
		return domain.Customer{}, domain.Invalid("id", "must be a UUID")
	}
	if field, err := checkCustomer(&c); err != nil {
		return domain.Customer{}, fieldError(field, err)
	}
	if err := checkTime(c.CreateTime); err != nil {
		return domain.Customer{}, fieldError("create_time", err)
	}
	if err := checkTime(c.UpdateTime); err != nil {
		return domain.Customer{}, fieldError("update_time", err)
	}
	if !tenantOK {
		return domain.Customer{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, c.TenantID)
	}
	args, err := clientArgs(&c)
	if err != nil {
		return domain.Customer{}, err
	}
	args = append(append([]any{sc.tenant, id}, args...), sortTime(c.CreateTime), sortTime(c.UpdateTime))
	var out domain.Customer
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qCreateCustomer, args...)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanCustomer(br.QueryRow())
		return err
	})
	return out, err
}

// GetCustomer returns a customer by id or by external id; with both, the
// customer must match both.
func (s *Store) GetCustomer(ctx context.Context, tenantID string, ref domain.CustomerRef) (domain.Customer, error) {
	if ref.ID == "" && ref.ExternalID == "" {
		return domain.Customer{}, domain.Invalid("customer", "set either id or external_id")
	}
	sc, ok := tenantScope(tenantID)
	id, idOK := parseID(ref.ID)
	if !ok || (ref.ID != "" && !idOK) || checkText(ref.ExternalID) != nil {
		return domain.Customer{}, customerNotFound(ref)
	}
	var c domain.Customer
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		switch {
		case ref.ID != "" && ref.ExternalID != "":
			b.Queue(qGetCustomerByBoth, sc.tenant, id, ref.ExternalID)
		case ref.ID != "":
			b.Queue(qGetCustomerByID, sc.tenant, id)
		default:
			b.Queue(qGetCustomerByExternal, sc.tenant, ref.ExternalID)
		}
	}, func(br pgx.BatchResults) (err error) {
		c, err = scanCustomer(br.QueryRow())
		return err
	})
	if errors.Is(err, domain.ErrNotFound) {
		return domain.Customer{}, customerNotFound(ref)
	}
	return c, err
}

// UpdateCustomer replaces the client-set fields of customer c.ID if it is at
// c.Version. One round trip: the update, and the version it did not match.
func (s *Store) UpdateCustomer(ctx context.Context, c domain.Customer) (domain.Customer, error) {
	if field, err := checkCustomer(&c); err != nil {
		return domain.Customer{}, fieldError(field, err)
	}
	if err := checkTime(c.UpdateTime); err != nil {
		return domain.Customer{}, fieldError("update_time", err)
	}
	ref := domain.CustomerRef{ID: c.ID}
	sc, ok := tenantScope(c.TenantID)
	id, idOK := parseID(c.ID)
	if !ok || !idOK {
		return domain.Customer{}, customerNotFound(ref)
	}
	args, err := clientArgs(&c)
	if err != nil {
		return domain.Customer{}, err
	}
	args = append(append([]any{sc.tenant, id}, args...), sortTime(c.UpdateTime), c.Version)
	var out domain.Customer
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qUpdateCustomer, args...)
		b.Queue(qCustomerVersion, sc.tenant, id)
	}, func(br pgx.BatchResults) error {
		var err error
		out, err = scanCustomer(br.QueryRow())
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var version int64
		switch err := br.QueryRow().Scan(&version); {
		case errors.Is(err, pgx.ErrNoRows):
			return customerNotFound(ref)
		case err != nil:
			return err
		}
		return fmt.Errorf("%w: customer is at version %d, not %d", domain.ErrStale, version, c.Version)
	})
	return out, err
}

// DeleteCustomer erases a customer with its transactions, interactions and
// referrals (the foreign keys cascade), purchase days, assessment and
// lifecycle transitions, corrects the referral statistics of the customers
// on the other side of its referrals, and stores the audit records. An
// explicit transaction, so that a customer found missing rolls the records
// back.
func (s *Store) DeleteCustomer(ctx context.Context, tenantID, id string, audit ...domain.AuditEvent) error {
	ref := domain.CustomerRef{ID: id}
	if err := checkAudit(audit); err != nil {
		return err
	}
	sc, ok := tenantScope(tenantID)
	cid, idOK := parseID(id)
	if !ok || !idOK {
		return customerNotFound(ref)
	}
	return s.tx(ctx, sc.writing(), func(b *pgx.Batch) {
		b.Queue(qLockCustomer, sc.tenant, cid)
		b.Queue(qLockReferralParties, sc.tenant, cid)
		b.Queue(qUnreferBy, sc.tenant, cid)
		b.Queue(qUnreferGiven, sc.tenant, cid)
		b.Queue(qDeletePurchaseDays, sc.tenant, cid)
		queueDeleteScoring(b, sc.tenant, cid)
		b.Queue(qDeleteAssessment, sc.tenant, cid)
		b.Queue(qDeleteTransitions, sc.tenant, cid)
		// The segment log lock orders the erasure with every write of
		// members, events and due times (a bulk run's follows its read).
		b.Queue(qLockLogHead, sc.tenant)
		b.Queue(qDeleteCustomerMembers, sc.tenant, cid)
		b.Queue(qDeleteCustomerEvents, sc.tenant, cid)
		b.Queue(qDeleteCustomerDue, sc.tenant, cid)
		b.Queue(qDeleteCustomer, sc.tenant, cid)
		queueAudit(b, sc.tenant, audit)
	}, func(br pgx.BatchResults) error {
		for range 11 + deleteScoringStatements {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		tag, err := br.Exec()
		if err == nil && tag.RowsAffected() == 0 {
			return customerNotFound(ref)
		}
		if err != nil {
			return err
		}
		return readAudit(br, audit)
	}, commit)
}

// UpsertCustomers creates or replaces customers by external id, all or
// nothing: it locks the stored customers with the batch's external ids,
// decides per item, then inserts and updates in one round trip.
func (s *Store) UpsertCustomers(ctx context.Context, tenantID string, cs []domain.Customer, now time.Time) ([]domain.UpsertOutcome, error) {
	ids, err := checkUpsert(cs)
	if err != nil {
		return nil, err
	}
	if err := checkTime(now); err != nil {
		return nil, fieldError("update_time", err)
	}
	if len(cs) == 0 {
		return []domain.UpsertOutcome{}, nil
	}
	sc, ok := tenantScope(tenantID)
	if !ok {
		return nil, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, tenantID)
	}
	exts := make([]string, len(cs))
	for i := range cs {
		exts[i] = cs[i].ExternalID
	}
	var out []domain.UpsertOutcome
	var stored map[string]domain.Customer
	err = s.tx(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qLockByExternal, sc.tenant, exts)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		list, err := collectCustomers(rows)
		stored = make(map[string]domain.Customer, len(list))
		for _, c := range list {
			stored[c.ExternalID] = c
		}
		return err
	}, func(tx pgx.Tx) error {
		out = make([]domain.UpsertOutcome, len(cs))
		var creates, changes upsertArrays
		for i := range cs {
			cur, ok := stored[cs[i].ExternalID]
			next := cs[i]
			next.Attributes = normAttributes(next.Attributes)
			next.Qualification.DecisionTime = normTime(next.Qualification.DecisionTime)
			switch {
			case !ok:
				if err := creates.add(ids[i], &next); err != nil {
					return err
				}
				out[i].Created = true
			case domain.SameClientFields(&cur, &next):
				out[i].Customer = cur
			default:
				if err := changes.add(cur.ID, &next); err != nil {
					return err
				}
			}
		}
		b := &pgx.Batch{}
		if creates.len() > 0 {
			b.Queue(qInsertCustomers, creates.args(sc.tenant, sortTime(now))...)
		}
		if changes.len() > 0 {
			b.Queue(qReplaceCustomers, changes.args(sc.tenant, sortTime(now))...)
		}
		if b.Len() == 0 {
			return nil
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		written := map[string]domain.Customer{}
		for _, n := range []int{creates.len(), changes.len()} {
			if n == 0 {
				continue
			}
			rows, err := br.Query()
			if err != nil {
				return err
			}
			list, err := collectCustomers(rows)
			if err != nil {
				return err
			}
			if len(list) != n {
				// A concurrent upsert created one of "our" new customers
				// after we looked: look again.
				return errRetry
			}
			for _, c := range list {
				written[c.ExternalID] = c
			}
		}
		for i := range out {
			if c, ok := written[cs[i].ExternalID]; ok {
				out[i].Customer = c
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// upsertArrays are the column arrays of qInsertCustomers and
// qReplaceCustomers: one element per customer.
type upsertArrays struct {
	ids                                                                                   []string
	external, kind, display, given, family, company, email, phone                         []string
	channels                                                                              []string
	country, region, city, ageBand, gender, industry, companySize, acquisition, authority []string
	need                                                                                  []string
	attributes                                                                            []string
	budget                                                                                []int64
	decision                                                                              []pgtype.Timestamptz
}

func (a *upsertArrays) len() int { return len(a.ids) }

func (a *upsertArrays) add(id string, c *domain.Customer) error {
	attrs, err := encodeAttributes(c.Attributes)
	if err != nil {
		return err
	}
	a.ids = append(a.ids, id)
	a.external = append(a.external, c.ExternalID)
	a.kind = append(a.kind, string(c.Kind))
	a.display = append(a.display, c.DisplayName)
	a.given = append(a.given, c.GivenName)
	a.family = append(a.family, c.FamilyName)
	a.company = append(a.company, c.CompanyName)
	a.email = append(a.email, c.Email)
	a.phone = append(a.phone, c.Phone)
	a.channels = append(a.channels, channelsJSON(c.AcceptedChannels))
	a.country = append(a.country, c.Country)
	a.region = append(a.region, c.Region)
	a.city = append(a.city, c.City)
	a.ageBand = append(a.ageBand, string(c.AgeBand))
	a.gender = append(a.gender, string(c.Gender))
	a.industry = append(a.industry, c.Industry)
	a.companySize = append(a.companySize, string(c.CompanySize))
	a.acquisition = append(a.acquisition, c.AcquisitionChannel)
	a.attributes = append(a.attributes, attrs)
	a.budget = append(a.budget, int64(c.Qualification.Budget))
	a.authority = append(a.authority, string(c.Qualification.Authority))
	a.need = append(a.need, c.Qualification.Need)
	a.decision = append(a.decision, nullTime(c.Qualification.DecisionTime))
	return nil
}

// args returns the parameters $1..$25 of the upsert statements.
func (a *upsertArrays) args(tenant string, now pgtype.Timestamptz) []any {
	return []any{tenant, a.ids, a.external, a.kind, a.display, a.given, a.family, a.company, a.email, a.phone,
		a.channels, a.country, a.region, a.city, a.ageBand, a.gender, a.industry, a.companySize, a.acquisition,
		a.attributes, a.budget, a.authority, a.need, a.decision, now}
}

// normAttributes keeps only the meaningful field of each attribute value,
// times at microsecond precision in UTC, as they come back from the
// database, so that an unchanged item compares equal to the stored customer.
func normAttributes(m map[string]domain.AttributeValue) map[string]domain.AttributeValue {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]domain.AttributeValue, len(m))
	for k, a := range m {
		v := domain.AttributeValue{Kind: a.Kind}
		switch a.Kind {
		case domain.AttrString:
			v.String = a.String
		case domain.AttrNumber:
			v.Number = a.Number + 0 // numeric has no negative zero
		case domain.AttrBool:
			v.Bool = a.Bool
		case domain.AttrTime:
			v.Time = normTime(a.Time)
		}
		out[k] = v
	}
	return out
}

// checkUpsert checks an upsert batch and returns the id each item would be
// created with.
func checkUpsert(cs []domain.Customer) ([]string, error) {
	ids := make([]string, len(cs))
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		c := &cs[i]
		if c.ExternalID == "" {
			return nil, &domain.ItemError{Index: i, Field: "external_id", Err: fmt.Errorf("%w: required for an upsert", domain.ErrInvalid)}
		}
		if seen[c.ExternalID] {
			return nil, &domain.ItemError{Index: i, Field: "external_id", Err: fmt.Errorf("%w: repeats an earlier item", domain.ErrInvalid)}
		}
		seen[c.ExternalID] = true
		if c.ID == "" {
			ids[i] = domain.NewID()
		} else if id, ok := parseID(c.ID); ok {
			ids[i] = id
		} else {
			return nil, &domain.ItemError{Index: i, Field: "id", Err: fmt.Errorf("%w: must be a UUID", domain.ErrInvalid)}
		}
		if field, err := checkCustomer(c); err != nil {
			return nil, &domain.ItemError{Index: i, Field: field, Err: err}
		}
	}
	return ids, nil
}
