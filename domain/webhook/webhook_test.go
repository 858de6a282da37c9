package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain/webhook"
)

// TestSignFollowsTheRecipe checks the header against the recipe of the
// package documentation, computed here with crypto/hmac directly.
func TestSignFollowsTheRecipe(t *testing.T) {
	t.Parallel()
	secret, body := "whsec_abc", []byte(`{"id":"segment_event:7"}`)
	at := time.Unix(1700000000, 0)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(`1700000000.{"id":"segment_event:7"}`))
	want := "t=1700000000,v1=" + hex.EncodeToString(m.Sum(nil))
	if got := webhook.Sign(secret, at, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret, body := webhook.NewSecret(), []byte(`{"a":1}`)
	at := time.Unix(1700000000, 0)
	h := webhook.Sign(secret, at, body)
	old := webhook.Sign("whsec_old", at, body)
	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		secret string
		now    time.Time
		want   error
	}{
		{"valid", h, body, secret, at.Add(time.Minute), nil},
		{"valid, clock behind", h, body, secret, at.Add(-time.Minute), nil},
		{"two signatures during a rotation", old + ",v1=" + strings.TrimPrefix(h, "t=1700000000,v1="), body, secret, at, nil},
		{"changed body", h, []byte(`{"a":2}`), secret, at, webhook.ErrSignature},
		{"other secret", h, body, webhook.NewSecret(), at, webhook.ErrSignature},
		{"replayed later", h, body, secret, at.Add(6 * time.Minute), webhook.ErrTimestamp},
		{"changed timestamp", strings.Replace(h, "t=1700000000", "t=1700000100", 1), body, secret, at, webhook.ErrSignature},
		{"no signature", "t=1700000000", body, secret, at, webhook.ErrNoSignature},
		{"no timestamp", "v1=00", body, secret, at, webhook.ErrNoSignature},
		{"garbage", "garbage", body, secret, at, webhook.ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := webhook.Verify(tc.header, tc.body, tc.secret, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b || !strings.HasPrefix(a, webhook.SecretPrefix) || len(a) != len(webhook.SecretPrefix)+43 {
		t.Fatalf("secrets %q, %q", a, b)
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "8.8.8.8": true, "2606:4700::1111": true,
		"127.0.0.1": false, "127.9.9.9": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "fd12::1": false, "0.0.0.0": false, "::": false,
		"100.64.0.1": false, "224.0.0.1": false, "ff02::1": false, "255.255.255.255": false, "::ffff:127.0.0.1": false,
		"::ffff:10.0.0.1": false, "::ffff:93.184.216.34": true, "192.0.2.1": false, "198.18.0.1": false, "64:ff9b::a00:1": false,
		"2002:7f00:1::": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestClientRefusesLoopbackUnlessAllowed: the httptest server listens on
// 127.0.0.1; without AllowPrivate nothing reaches it.
func TestClientRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	c := webhook.NewClient(5 * time.Second)
	resp := c.Post(t.Context(), webhook.Request{URL: srv.URL, Body: []byte("{}")})
	if !errors.Is(resp.Err, webhook.ErrForbiddenAddress) || resp.StatusCode != 0 || hits.Load() != 0 {
		t.Fatalf("refused? %+v, %d hits", resp, hits.Load())
	}
	// A name that resolves to loopback is refused the same way.
	resp = c.Post(t.Context(), webhook.Request{URL: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), Body: []byte("{}")})
	if !errors.Is(resp.Err, webhook.ErrForbiddenAddress) || hits.Load() != 0 {
		t.Fatalf("localhost: %+v, %d hits", resp, hits.Load())
	}
	resp = c.Post(t.Context(), webhook.Request{URL: srv.URL, AllowPrivate: true, Body: []byte("{}")})
	if resp.Err != nil || resp.StatusCode != 200 || hits.Load() != 1 || resp.Latency <= 0 {
		t.Fatalf("allowed: %+v, %d hits", resp, hits.Load())
	}
}

// TestClientNeitherFollowsRedirectsNorReadsWithoutLimit: a 3xx is a failed
// attempt at the registered URL, and a huge error body is cut short.
func TestClientNeitherFollowsRedirectsNorReadsWithoutLimit(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		case "/elsewhere":
			elsewhere.Add(1)
		case "/huge":
			w.WriteHeader(http.StatusBadGateway)
			chunk := []byte(strings.Repeat("x", 1<<16))
			for range 1 << 8 { // 16 MiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/slow":
			time.Sleep(2 * time.Second)
		}
	}))
	defer srv.Close()
	c := webhook.NewClient(500 * time.Millisecond)
	resp := c.Post(t.Context(), webhook.Request{URL: srv.URL + "/moved", AllowPrivate: true})
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Err == nil || elsewhere.Load() != 0 {
		t.Fatalf("redirect: %+v, followed %d", resp, elsewhere.Load())
	}
	resp = c.Post(t.Context(), webhook.Request{URL: srv.URL + "/huge", AllowPrivate: true})
	if resp.StatusCode != http.StatusBadGateway || resp.Err == nil || len(resp.Err.Error()) > 300 {
		t.Fatalf("huge: status %d, error of %d bytes", resp.StatusCode, len(resp.Err.Error()))
	}
	start := time.Now()
	resp = c.Post(t.Context(), webhook.Request{URL: srv.URL + "/slow", AllowPrivate: true})
	if resp.Err == nil || resp.StatusCode != 0 || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("slow: %+v after %v", resp, time.Since(start))
	}
}
