package main

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	scoringv1 "github.com/potentialhq/potential/gen/go/potential/scoring/v1"
)

// TestImportCDNOWThenFit reproduces the published BG/NBD parameters through
// the CLI: import the CDNOW log, fit with observation end 1997-09-30.
func TestImportCDNOWThenFit(t *testing.T) {
	addr, conn := testServer(t)
	code, out, errOut := runCLI(t, "import", "--addr", addr, "--api-key", testKey, "--format", "cdnow", "--create-missing-customers", "--progress", "lines", cdnowFile(t, false))
	if code != 0 || !strings.Contains(out, "6919 rows read: 6919 imported (6919 new, 0 already known), 0 rejected; 2357 customers created") {
		t.Fatalf("exit %d: %s %s", code, out, errOut)
	}
	stream, err := scoringv1.NewScoringServiceClient(conn).FitValueModel(authed(t.Context()), &scoringv1.FitValueModelRequest{
		ObservationEnd: timestamppb.New(time.Date(1997, 9, 30, 0, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var m *scoringv1.ValueModel
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetModel() != nil {
			m = resp.GetModel()
		}
	}
	p := m.GetBgNbd()
	for _, c := range []struct{ got, want float64 }{{p.GetR(), 0.2425945}, {p.GetAlpha(), 4.4136019}, {p.GetA(), 0.7929199}, {p.GetB(), 2.4258881}} {
		if math.Abs(c.got-c.want) > 0.001*c.want {
			t.Errorf("got %v, want %v ± 0.1%%", c.got, c.want)
		}
	}
}

// TestDemoRecoversItsParameters loads `potential demo --customers 10000
// --seed 1` and fits: each BG/NBD parameter must lie within 4 standard
// errors of the generating value (the fit reports the standard errors; the
// residual bias comes from merging same-day purchases and day resolution).
func TestDemoRecoversItsParameters(t *testing.T) {
	addr, conn := testServer(t)
	if code, out, errOut := runCLI(t, "demo", "--addr", addr, "--api-key", testKey, "--customers", "10000", "--seed", "1", "--end", "2026-06-30"); code != 0 {
		t.Fatalf("demo: exit %d %s %s", code, out, errOut)
	}
	stream, err := scoringv1.NewScoringServiceClient(conn).FitValueModel(authed(t.Context()), &scoringv1.FitValueModelRequest{
		ObservationEnd: timestamppb.New(demoEnd), SkipReassess: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	var m *scoringv1.ValueModel
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetModel() != nil {
			m = resp.GetModel()
		}
	}
	p := m.GetBgNbd()
	se := p.GetFit().GetStandardErrors()
	if len(se) != 4 {
		t.Fatalf("no standard errors: %v", p.GetFit())
	}
	for i, c := range []struct {
		name      string
		got, want float64
	}{{"r", p.GetR(), demoParams.R}, {"alpha", p.GetAlpha(), demoParams.Alpha}, {"a", p.GetA(), demoParams.A}, {"b", p.GetB(), demoParams.B}} {
		t.Logf("%s = %.4f ± %.4f (generated with %v)", c.name, c.got, se[i], c.want)
		if math.Abs(c.got-c.want) > 4*se[i] {
			t.Errorf("%s = %v, more than 4 standard errors (%v) from %v", c.name, c.got, se[i], c.want)
		}
	}
}
