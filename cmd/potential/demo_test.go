package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

var demoEnd = time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)

// TestDemoIsReproducible: the same seed, size and end give the same data,
// generated twice and loaded twice through the CLI into two services.
func TestDemoIsReproducible(t *testing.T) {
	a, b := generateDemo(2000, 1, demoEnd), generateDemo(2000, 1, demoEnd)
	if len(a.transactions) == 0 || len(a.interactions) == 0 || len(a.referrals) == 0 {
		t.Fatalf("empty parts: %d transactions, %d interactions, %d referrals", len(a.transactions), len(a.interactions), len(a.referrals))
	}
	same := len(a.customers) == len(b.customers) && len(a.transactions) == len(b.transactions) && len(a.interactions) == len(b.interactions)
	for i := 0; same && i < len(a.customers); i++ {
		same = proto.Equal(a.customers[i], b.customers[i])
	}
	for i := 0; same && i < len(a.transactions); i++ {
		same = proto.Equal(a.transactions[i], b.transactions[i])
	}
	if !same {
		t.Fatal("two generations with the same seed differ")
	}
	if c := generateDemo(2000, 2, demoEnd); proto.Equal(c.transactions[0], a.transactions[0]) && len(c.transactions) == len(a.transactions) {
		t.Fatal("another seed gives the same data")
	}
	var snaps []string
	for range 2 {
		addr, conn := testServer(t)
		code, out, errOut := runCLI(t, "demo", "--addr", addr, "--api-key", testKey, "--customers", "2000", "--seed", "1", "--end", "2026-06-30")
		if code != 0 || !strings.Contains(out, "loaded 2000 customers") {
			t.Fatalf("demo: exit %d %s %s", code, out, errOut)
		}
		snaps = append(snaps, snapshot(t, conn))
	}
	if snaps[0] != snaps[1] {
		t.Fatal("two loads of the same demo differ")
	}
}
