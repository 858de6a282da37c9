package postgres

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/pgtest"
)

// TestInputDecode holds the fast path of inputRow, which decodes the binary
// values itself, to pgx's Scan: every row of qInputsAll, read both ways,
// must give the same input, for extreme values too.
func TestInputDecode(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t, MigrationsHash(), Migrate)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := t.Context()
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	tn := domain.Tenant{ID: domain.NewID(), Name: "decode", CreateTime: now}
	if err := s.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	var txs []domain.Transaction
	var its []domain.Interaction
	for i, at := range []time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC), now.Add(-time.Hour), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		ext := fmt.Sprintf("c%d", i)
		c := domain.Customer{ID: domain.NewID(), TenantID: tn.ID, ExternalID: ext, Kind: domain.KindCustomer, CreateTime: at, UpdateTime: at}
		if i%2 == 1 {
			c.Kind = domain.KindLead
		}
		if _, err := s.CreateCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		for k, amount := range []domain.Money{1, math.MaxInt64 / 4, 7} {
			tx := domain.Transaction{ID: domain.NewID(), ExternalID: fmt.Sprintf("%s-%d", ext, k), Customer: domain.CustomerRef{ExternalID: ext},
				Kind: domain.TxOrder, Amount: amount, OccurredAt: at.AddDate(0, 0, -3*k)}
			if k == 2 {
				tx.Kind, tx.Margin, tx.HasMargin = domain.TxRefund, -5, true
			}
			if i == 2 {
				txs = append(txs, tx)
			}
		}
		its = append(its, domain.Interaction{ID: domain.NewID(), ExternalID: "i" + ext, Customer: domain.CustomerRef{ExternalID: ext},
			Type: domain.InteractionCall, OccurredAt: now.AddDate(0, 0, -i*20)})
	}
	if _, err := s.RecordTransactions(ctx, tn.ID, txs, domain.RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordInteractions(ctx, tn.ID, its, domain.RecordOptions{}); err != nil {
		t.Fatal(err)
	}
	sc := scope{tenant: tn.ID}
	var fast, slow inputRow
	rows := 0
	err = s.stream(ctx, sc, qMergePlan, qInputsAll, []any{tn.ID, now.AddDate(0, 0, -120), now.AddDate(0, 0, -30), now}, func(r pgx.Rows) error {
		rows++
		var a, b domain.AssessmentInput
		if err := fast.scan(r, &a); err != nil {
			return err
		}
		slow.checked, slow.fast = true, false
		if err := slow.scan(r, &b); err != nil {
			return err
		}
		if !fast.fast {
			t.Fatal("the fast path was not taken")
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("decoded %+v\n scanned %+v", a, b)
		}
		return nil
	})
	if err != nil || rows != 5 {
		t.Fatalf("%d rows, %v", rows, err)
	}
}
