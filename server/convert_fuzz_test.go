package server

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// FuzzCustomerFromProto decodes arbitrary bytes as a Customer message and
// converts it: a refusal is ErrInvalid, and an accepted customer converts
// back and forth to itself.
func FuzzCustomerFromProto(f *testing.F) {
	for _, c := range []*customerv1.Customer{
		{ExternalId: "crm-1", GivenName: "Ada", Email: "ada@example.com", Country: "PL",
			Attributes:    map[string]*customerv1.AttributeValue{"vip": {Kind: &customerv1.AttributeValue_BoolValue{BoolValue: true}}, "n": {Kind: &customerv1.AttributeValue_NumberValue{NumberValue: 2.5}}},
			Qualification: &customerv1.Qualification{Budget: "25000", Authority: customerv1.Authority_AUTHORITY_DECISION_MAKER},
			Communication: &customerv1.CommunicationPreferences{AcceptedChannels: []customerv1.Channel{customerv1.Channel_CHANNEL_SMS}}},
		{Kind: customerv1.CustomerKind(99), Attributes: map[string]*customerv1.AttributeValue{"x": {}}},
		{Qualification: &customerv1.Qualification{Budget: "1e9"}},
	} {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p customerv1.Customer
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		c, err := customerFromProto(&p)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error is not ErrInvalid: %v", err)
			}
			return
		}
		again, err := customerFromProto(customerToProto(&c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip:\n got %+v, %v\nwant %+v", again, err, c)
		}
	})
}

// FuzzTransactionFromProto: a refused transaction is ErrInvalid naming a
// field of transactions[0]; an accepted amount and margin format back to
// strings that parse to them.
func FuzzTransactionFromProto(f *testing.F) {
	for _, tx := range []*customerv1.Transaction{
		{ExternalId: "o1", Customer: &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: "a"}},
			Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: "120.50", Margin: "30", Quantity: 2, OccurredAt: timestamppb.Now()},
		{Amount: "-1", Margin: "x"},
		{Amount: "99999999999999", OccurredAt: &timestamppb.Timestamp{Seconds: -1 << 40}},
	} {
		b, err := proto.Marshal(tx)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p customerv1.Transaction
		if proto.Unmarshal(b, &p) != nil {
			return
		}
		tx, err := transactionFromProto(0, &p)
		if err != nil {
			var ve *domain.ValidationError
			if !errors.Is(err, domain.ErrInvalid) || !errors.As(err, &ve) || len(ve.Violations) == 0 || !strings.HasPrefix(ve.Violations[0].Field, "transactions[0].") {
				t.Fatalf("error is not a field violation of transactions[0]: %v", err)
			}
			return
		}
		for _, m := range []domain.Money{tx.Amount, tx.Margin} {
			if back, err := domain.ParseMoney(m.String()); err != nil || back != m {
				t.Fatalf("%d formats as %q, which parses to %d, %v", int64(m), m.String(), int64(back), err)
			}
		}
	})
}
