package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
)

var _ domain.ActionStore = (*Store)(nil)

// actionRuleDoc is the stored form of an action rule.
type actionRuleDoc struct {
	Action        string `json:"action"`
	Condition     string `json:"condition"`
	Reason        string `json:"reason"`
	DueWithinDays int    `json:"due_within_days,omitempty"`
}

func encodeActionRules(rs []domain.ActionRule) ([]byte, error) {
	docs := make([]actionRuleDoc, len(rs))
	for i, r := range rs {
		for _, t := range []string{r.Action, r.Condition, r.Reason} {
			if err := checkText(t); err != nil {
				return nil, fieldError(fmt.Sprintf("action_table.rules[%d]", i), err)
			}
		}
		docs[i] = actionRuleDoc{Action: r.Action, Condition: r.Condition, Reason: r.Reason, DueWithinDays: r.DueWithinDays}
	}
	return json.Marshal(docs)
}

func decodeActionRules(b []byte) ([]domain.ActionRule, error) {
	var docs []actionRuleDoc
	if err := json.Unmarshal(b, &docs); err != nil {
		return nil, err
	}
	out := make([]domain.ActionRule, len(docs))
	for i, d := range docs {
		out[i] = domain.ActionRule{Action: d.Action, Condition: d.Condition, Reason: d.Reason, DueWithinDays: d.DueWithinDays}
	}
	return out, nil
}

// scanActionTable scans a row of qGetActionTable.
func scanActionTable(row pgx.Row, tenant string) (domain.ActionTable, error) {
	t := domain.ActionTable{TenantID: tenant}
	var raw []byte
	var at time.Time
	if err := row.Scan(&t.Version, &raw, &at); err != nil {
		return domain.ActionTable{}, err
	}
	rs, err := decodeActionRules(raw)
	if err != nil {
		return domain.ActionTable{}, err
	}
	t.Rules, t.UpdateTime = rs, at.UTC()
	return t, nil
}

// GetActionTable returns the tenant's action table; ErrNotFound if it
// never set one.
func (s *Store) GetActionTable(ctx context.Context, tenantID string) (domain.ActionTable, error) {
	sc, ok := tenantScope(tenantID)
	if !ok {
		return domain.ActionTable{}, fmt.Errorf("%w: no action table", domain.ErrNotFound)
	}
	var out domain.ActionTable
	err := s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qGetActionTable, sc.tenant)
	}, func(br pgx.BatchResults) (err error) {
		out, err = scanActionTable(br.QueryRow(), sc.tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: no action table", domain.ErrNotFound)
		}
		return err
	})
	return out, err
}

// SaveActionTable stores t if it is the next version; else ErrStale.
func (s *Store) SaveActionTable(ctx context.Context, t domain.ActionTable) (domain.ActionTable, error) {
	if err := checkTime(t.UpdateTime); err != nil {
		return domain.ActionTable{}, fieldError("update_time", err)
	}
	sc, ok := tenantScope(t.TenantID)
	if !ok {
		return domain.ActionTable{}, fmt.Errorf("%w: tenant %q", domain.ErrNotFound, t.TenantID)
	}
	raw, err := encodeActionRules(t.Rules)
	if err != nil {
		return domain.ActionTable{}, err
	}
	t.TenantID, t.UpdateTime = sc.tenant, normTime(t.UpdateTime)
	err = s.batch(ctx, sc, func(b *pgx.Batch) {
		b.Queue(qSaveActionTable, sc.tenant, t.Version, raw, sortTime(t.UpdateTime))
	}, func(br pgx.BatchResults) error {
		var v int64
		err := br.QueryRow().Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: the action table is not at version %d", domain.ErrStale, t.Version-1)
		}
		return err
	})
	if err != nil {
		return domain.ActionTable{}, err
	}
	return t, nil
}
