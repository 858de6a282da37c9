package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDashboardBesideTheAPI checks that serve's HTTP port serves the
// dashboard at / and the Connect API beside it, on one origin.
func TestDashboardBesideTheAPI(t *testing.T) {
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--bootstrap-key", "pk_web_0123456789abcdef", "--demo-customers", "0"}, &out, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit code %d", code)
		}
	}()
	dashRe := regexp.MustCompile(`Dashboard: (http://\S+)/`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := dashRe.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
	}
	if base == "" {
		t.Fatalf("no dashboard address in output:\n%s", out.String())
	}

	res, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), `<div id="app">`) {
		t.Fatalf("GET / = %d %s:\n%s", res.StatusCode, res.Header.Get("Content-Type"), page)
	}

	req, _ := http.NewRequest("POST", base+"/potential.customer.v1.CustomerService/ListCustomers", strings.NewReader(`{"pageSize": 1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer pk_web_0123456789abcdef")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("ListCustomers beside the dashboard = %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), reply)
	}
}
