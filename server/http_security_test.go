package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/server"
	"github.com/potentialhq/potential/store/memory"
)

// TestCORS checks that browsers may call the HTTP port from the configured
// origins only, and from none (same origin only) by default.
func TestCORS(t *testing.T) {
	t.Parallel()
	svc := domain.NewService(memory.New(), nil)
	if _, _, err := svc.Bootstrap(t.Context(), adminKey); err != nil {
		t.Fatal(err)
	}
	const dash, evil = "https://dash.example.com", "https://evil.example.net"
	const list = "/potential.customer.v1.CustomerService/ListCustomers"
	for _, tc := range []struct {
		name    string
		origins []string
		allowed map[string]bool
	}{
		{"default", nil, map[string]bool{}},
		{"configured", []string{dash, "http://localhost:5173"}, map[string]bool{dash: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := server.New(svc, server.Options{CORSOrigins: tc.origins})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			for _, origin := range []string{dash, evil} {
				// The preflight a browser sends before a Connect call with a key.
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, hs.URL+list, nil)
				req.Header.Set("Origin", origin)
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type") // as browsers send it: lower case, sorted
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				got := res.Header.Get("Access-Control-Allow-Origin")
				headers := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
				if tc.allowed[origin] {
					if got != origin || !strings.Contains(headers, "authorization") || !strings.Contains(headers, "connect-protocol-version") {
						t.Errorf("preflight from %s: allow origin %q, headers %q; want it allowed with authorization", origin, got, headers)
					}
				} else if got != "" {
					t.Errorf("preflight from %s: allow origin %q; want none", origin, got)
				}
				// The call itself.
				req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+list, strings.NewReader("{}"))
				req.Header.Set("Origin", origin)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+adminKey)
				res, err = http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				got = res.Header.Get("Access-Control-Allow-Origin")
				if res.StatusCode != http.StatusOK || (got == origin) != tc.allowed[origin] || (got != "" && got != origin) {
					t.Errorf("call from %s: HTTP %d, allow origin %q; want allowed %v", origin, res.StatusCode, got, tc.allowed[origin])
				}
			}
		})
	}
	for _, bad := range []string{"*", "https://dash.example.com/", "https://dash.example.com/app", "dash.example.com", "ftp://dash.example.com"} {
		if _, err := server.New(svc, server.Options{CORSOrigins: []string{bad}}); err == nil {
			t.Errorf("CORS origin %q accepted", bad)
		}
	}
}

// TestRequestSizeLimits sends a request just over server.MaxRequestBytes
// on both ports, over every protocol: each is ResourceExhausted with a
// message that says so, and the server goes on serving. A body far over
// the limit is cut off at the HTTP layer with the same code, and a request
// just under the limit is read (and judged on its content).
func TestRequestSizeLimits(t *testing.T) {
	t.Parallel()
	e := start(t, memory.New())
	ctx := t.Context()
	over := &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "big", DisplayName: strings.Repeat("x", server.MaxRequestBytes)}}
	under := &customerv1.CreateCustomerRequest{Customer: &customerv1.Customer{ExternalId: "big", DisplayName: strings.Repeat("x", server.MaxRequestBytes-1024)}}
	for _, tr := range transports {
		c := e.client(tr, adminKey)
		_, err := c.CreateCustomer(ctx, over)
		wantCode(t, err, connect.CodeResourceExhausted)
		if msg := strings.ToLower(connect.NewError(connect.CodeOf(err), err).Message()); !strings.Contains(msg, "larger than") && !strings.Contains(msg, "too large") {
			t.Errorf("%s: %v; want a message that says the request is too large", tr, err)
		}
		t.Logf("%s: %v", tr, err)
		_, err = c.CreateCustomer(ctx, under)
		wantField(t, err, "customer.display_name")
		if _, err := c.ListCustomers(ctx, &customerv1.ListCustomersRequest{}); err != nil {
			t.Errorf("%s: after an oversized request: %v", tr, err)
		}
	}
	// A body far beyond the limit, as JSON: refused before it is all read.
	body := io.MultiReader(strings.NewReader(`{"customer": {"externalId": "big", "displayName": "`), bytes.NewReader(bytes.Repeat([]byte("x"), 4*server.MaxRequestBytes)), strings.NewReader(`"}}`))
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, e.httpURL+"/potential.customer.v1.CustomerService/CreateCustomer", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	res, err := e.h2c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	t.Logf("big body: HTTP %d %s", res.StatusCode, out)
	if res.StatusCode == http.StatusOK || !bytes.Contains(out, []byte("resource_exhausted")) {
		t.Errorf("a %d MiB body: HTTP %d %s; want resource_exhausted", 4*server.MaxRequestBytes>>20, res.StatusCode, out)
	}
}
