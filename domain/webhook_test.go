package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

func TestCanonicalWebhookURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw      string
		insecure bool
		want     string // "" for an error
	}{
		{"https://Hooks.Example.COM/in?x=1", false, "https://hooks.example.com/in?x=1"},
		{"HTTPS://hooks.example.com:443", false, "https://hooks.example.com/"},
		{"https://hooks.example.com:8443/a", false, "https://hooks.example.com:8443/a"},
		{"https://[2001:DB8::1]:443/a", false, "https://[2001:db8::1]/a"},
		{"http://127.0.0.1:8080/hook", true, "http://127.0.0.1:8080/hook"},
		{"http://localhost:80/hook", true, "http://localhost/hook"},
		{"http://[::1]:9/", true, "http://[::1]:9/"},
		{"http://127.0.0.1:8080/hook", false, ""},         // http only where allowed
		{"http://hooks.example.com/in", true, ""},         // and only for localhost
		{"https://user:pw@hooks.example.com/", false, ""}, // user info
		{"https://hooks.example.com/#frag", false, ""},
		{"ftp://hooks.example.com/", false, ""},
		{"/relative", false, ""},
		{"https:///nohost", false, ""},
		{"", false, ""},
	} {
		got, err := domain.CanonicalWebhookURL(tc.raw, "destination.url", tc.insecure)
		if tc.want == "" {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || ve.Violations[0].Field != "destination.url" {
				t.Errorf("%q: got %q, %v; want an error on destination.url", tc.raw, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

// TestWebhookBackoff: attempt n waits within [d/2, d) for d = base·2^(n-1)
// capped at max.
func TestWebhookBackoff(t *testing.T) {
	t.Parallel()
	base, max := 10*time.Second, time.Hour
	for n, d := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 9: 2560 * time.Second, 10: time.Hour, 50: time.Hour} {
		seen := map[time.Duration]bool{}
		for range 200 {
			got := domain.WebhookBackoff(n, base, max)
			if got < d/2 || got >= d {
				t.Fatalf("attempt %d: %v outside [%v, %v)", n, got, d/2, d)
			}
			seen[got] = true
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: only %d distinct pauses in 200: no jitter", n, len(seen))
		}
	}
}

func TestWebhookDeliveryIDIsStable(t *testing.T) {
	t.Parallel()
	sub := domain.NewID()
	a, b := domain.WebhookDeliveryID(sub, "segment_event:1"), domain.WebhookDeliveryID(sub, "segment_event:1")
	if a != b || a == domain.WebhookDeliveryID(sub, "segment_event:2") || a == domain.WebhookDeliveryID(domain.NewID(), "segment_event:1") {
		t.Fatalf("ids %s %s", a, b)
	}
}
