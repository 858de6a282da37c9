package server_test

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
	"github.com/potentialhq/potential/gen/go/potential/scoring/v1/scoringv1connect"
)

// cdnowTransactions reads testdata/cdnow/CDNOW_sample.txt (see its README)
// into orders: one per line, the line number as the CRM's id, the sample
// customer id as the customer's external id, midnight UTC of the date.
func cdnowTransactions(tb testing.TB) []*customerv1.Transaction {
	tb.Helper()
	f, err := os.Open("../testdata/cdnow/CDNOW_sample.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []*customerv1.Transaction
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		cols := strings.Fields(sc.Text())
		if len(cols) != 5 {
			tb.Fatalf("line %d: %q", line, sc.Text())
		}
		day, err := time.Parse("20060102", cols[2])
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, &customerv1.Transaction{
			ExternalId: fmt.Sprintf("cdnow-%d", line),
			Customer:   &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: cols[1]}},
			Kind:       customerv1.TransactionKind_TRANSACTION_KIND_ORDER,
			Amount:     cols[4],
			OccurredAt: timestamppb.New(day),
		})
	}
	if len(out) != 6919 {
		tb.Fatalf("read %d rows, want 6919", len(out))
	}
	return out
}

func scoringClient(e *env, t transport, key string) scoringv1connect.ScoringServiceClient {
	opts := []connect.ClientOption{connect.WithInterceptors(bearer(key))}
	switch t {
	case viaConnectJSON:
		opts = append(opts, connect.WithProtoJSON())
	case viaConnectGRPC, viaGRPC:
		opts = append(opts, connect.WithGRPC())
	case viaGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	return scoringv1connect.NewScoringServiceClient(e.h2c, e.httpURL, opts...)
}

// fit runs FitValueModel and returns its final model, checking that
// progress came first.
func fit(t *testing.T, c scoringv1connect.ScoringServiceClient, req *scoringv1.FitValueModelRequest) *scoringv1.ValueModel {
	t.Helper()
	stream, err := c.FitValueModel(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var model *scoringv1.ValueModel
	progress := 0
	for stream.Receive() {
		if p := stream.Msg().GetProgress(); p != nil {
			progress++
		}
		if m := stream.Msg().GetModel(); m != nil {
			model = m
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if model == nil || progress == 0 {
		t.Fatalf("stream ended with model %v after %d progress messages", model, progress)
	}
	return model
}

func within(got, want, rel float64) bool { return math.Abs(got-want) <= rel*math.Abs(want) }

// TestCDNOWThroughTheAPI imports the CDNOW sample through RecordTransactions
// into each store, fits with observation end 1997-09-30 in weeks, and checks
// the published parameters (FHL 2005; Fader & Hardie 2013).
func TestCDNOWThroughTheAPI(t *testing.T) {
	txs := cdnowTransactions(t)
	for _, st := range stores() {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, st.open(t))
			cc := e.client(viaGRPC, adminKey)
			for i := 0; i < len(txs); i += 1000 {
				res, err := cc.RecordTransactions(t.Context(), &customerv1.RecordTransactionsRequest{Transactions: txs[i:min(i+1000, len(txs))], CreateMissingCustomers: true})
				if err != nil {
					t.Fatal(err)
				}
				if res.GetCreatedCount() != int32(min(1000, len(txs)-i)) {
					t.Fatalf("batch %d: %v", i, res)
				}
			}
			sc := scoringClient(e, viaConnect, adminKey)
			m := fit(t, sc, &scoringv1.FitValueModelRequest{
				ObservationEnd: timestamppb.New(time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)),
				HoldoutEnd:     timestamppb.New(time.Date(1998, 6, 30, 0, 0, 0, 0, time.UTC)),
				Settings:       &scoringv1.ValueSettings{TimeUnit: scoringv1.TimeUnit_TIME_UNIT_WEEK},
			})
			p := m.GetBgNbd()
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"r", p.GetR(), 0.2425945}, {"alpha", p.GetAlpha(), 4.4136019}, {"a", p.GetA(), 0.7929199}, {"b", p.GetB(), 2.4258881}} {
				if !within(c.got, c.want, 0.001) {
					t.Errorf("BG/NBD %s = %v, want %v ± 0.1%%", c.name, c.got, c.want)
				}
			}
			if ll := p.GetFit().GetLogLikelihood(); math.Abs(ll-(-9582.43)) > 0.01 {
				t.Errorf("log-likelihood %v, want -9582.43", ll)
			}
			g := m.GetGammaGamma()
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"p", g.GetP(), 6.25}, {"q", g.GetQ(), 3.74}, {"gamma", g.GetGamma(), 15.44}} {
				if !within(c.got, c.want, 0.01) {
					t.Errorf("Gamma-Gamma %s = %v, want %v ± 1%%", c.name, c.got, c.want)
				}
			}
			if m.GetCustomers() != 2357 || m.GetRepeatCustomers() != 946 {
				t.Errorf("customers %d, repeaters %d; want 2357, 946", m.GetCustomers(), m.GetRepeatCustomers())
			}
			var holdout float64
			for _, h := range m.GetHoldout() {
				holdout += h.GetActual() * h.GetCustomers()
			}
			if math.Round(holdout) != 1882 {
				t.Errorf("holdout purchase days %v, want 1882", holdout)
			}
			// The model is what GetValueModel returns, and every customer was assessed.
			got, err := sc.GetValueModel(t.Context(), &scoringv1.GetValueModelRequest{})
			if err != nil || got.GetVersion() != m.GetVersion() || got.GetBgNbd().GetR() != p.GetR() {
				t.Fatalf("GetValueModel = %v, %v", got.GetBgNbd(), err)
			}
			dist, err := sc.GetRfmDistribution(t.Context(), &scoringv1.GetRfmDistributionRequest{})
			if err != nil || dist.GetCustomers() != 2357 {
				t.Fatalf("RFM distribution: %v customers, %v", dist.GetCustomers(), err)
			}
			a, err := sc.GetCustomerAssessment(t.Context(), &scoringv1.GetCustomerAssessmentRequest{Ref: &scoringv1.GetCustomerAssessmentRequest_ExternalId{ExternalId: "0001"}})
			if err != nil || a.GetModelVersion() != m.GetVersion() || a.GetValue().GetExplanation() == "" {
				t.Fatalf("assessment = %v, %v", a, err)
			}
		})
	}
}
