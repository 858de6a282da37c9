// Package webhook signs, verifies and sends webhook deliveries: an HMAC-SHA256
// signature over a timestamp and the body, in the header form Stripe made
// common ("t=<unix seconds>,v1=<hex>"), and an HTTP client that refuses to
// connect to private, loopback and link-local addresses unless told the
// destination may be one. It imports nothing of Potential's.
//
// Verifying a delivery (what a subscriber does):
//
//  1. Read Potential-Signature, e.g. "t=1700000000,v1=5257a8…"; take t and
//     every v1 value.
//  2. Compute HMAC-SHA256 keyed with the subscription's secret (the whole
//     "whsec_…" string, as bytes) over t + "." + the raw request body.
//  3. Accept if its lower-case hex equals one of the v1 values (compare in
//     constant time) and t is within a tolerance of your clock (5 minutes),
//     which bounds replays. Verify does exactly this.
//  4. Deduplicate by Potential-Idempotency-Key: a delivery is retried until
//     it is answered with a 2xx, so the same event may arrive more than once.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Header names of a delivery.
const (
	HeaderSignature      = "Potential-Signature"
	HeaderTimestamp      = "Potential-Timestamp"
	HeaderIdempotencyKey = "Potential-Idempotency-Key"
	HeaderEventID        = "Potential-Event-Id"
	HeaderEventType      = "Potential-Event-Type"
	HeaderAttempt        = "Potential-Attempt"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: SecretPrefix and 32 random bytes
// in unpadded base64url (256 bits, the size of the HMAC-SHA256 key block's
// output).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// mac returns hex(HMAC-SHA256(secret, "<unix t>.<body>")).
func mac(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Sign returns the Potential-Signature header of body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + mac(secret, ts, body)
}

// Errors of Verify.
var (
	ErrNoSignature = errors.New("webhook: malformed or missing signature header")
	ErrSignature   = errors.New("webhook: no signature matches the body")
	ErrTimestamp   = errors.New("webhook: timestamp outside the tolerance")
)

// Verify checks a Potential-Signature header against body and secret, and
// that its timestamp is within tolerance of now (either side).
func Verify(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	var ts int64
	var sigs []string
	haveT := false
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrNoSignature
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return ErrNoSignature
			}
			ts, haveT = n, true
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if !haveT || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := []byte(mac(secret, ts, body))
	ok := false
	for _, s := range sigs {
		if hmac.Equal([]byte(s), want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	return nil
}

// ErrForbiddenAddress is the error of a connection refused because the
// destination resolved to a private, loopback, link-local or otherwise
// non-public address and was not allowed to.
var ErrForbiddenAddress = errors.New("webhook: destination resolves to a non-public address")

// nonPublic are the prefixes, beyond what netip.Addr's predicates name,
// that are not public unicast: "this network", shared address space
// (CGNAT), IETF protocol assignments, the documentation and benchmarking
// ranges, reserved 240/4, and NAT64/6to4 and the other IPv6 transition and
// documentation ranges.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/23"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("fec0::/10"),
}

// Public reports whether a is a public unicast address: not loopback,
// private (RFC 1918, fc00::/7), link-local, unspecified, multicast or one of
// the special-purpose ranges above. IPv4-mapped IPv6 addresses are judged as
// the IPv4 address they carry.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Request is one delivery attempt.
type Request struct {
	URL string
	// AllowPrivate lets the connection go to non-public addresses (a
	// destination registered as internal).
	AllowPrivate bool
	Header       http.Header
	Body         []byte
}

// Response is what an attempt got.
type Response struct {
	// StatusCode is the HTTP status; 0 when no response arrived.
	StatusCode int
	// Err says why the attempt failed: a transport error, a refused
	// address, or a status other than 2xx. Nil on success.
	Err error
	// Latency runs from sending the request to having read the response
	// (up to MaxResponseBytes of its body).
	Latency time.Duration
}

// MaxResponseBytes bounds how much of a response body is read (and kept
// for the error message, its first 200 bytes); the rest is discarded by
// closing the connection.
const MaxResponseBytes = 64 << 10

// Client sends deliveries. The zero value is not usable; call NewClient.
type Client struct {
	public, private *http.Client
}

// NewClient returns a client whose attempts time out after timeout (the
// whole exchange, connection included). It never follows redirects (a 3xx
// is a failed attempt, so a registered URL cannot send it elsewhere), uses
// no proxy from the environment, and checks every address it connects to,
// after resolution, so a name that resolves to a private address, or
// changes to one later (DNS rebinding), is refused unless the request
// allows private addresses.
func NewClient(timeout time.Duration) *Client {
	mk := func(allowPrivate bool) *http.Client {
		d := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
			if allowPrivate {
				return nil
			}
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Public(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			return nil
		}}
		return &http.Client{
			Timeout: timeout,
			Transport: &http.Transport{
				Proxy:                 nil,
				DialContext:           d.DialContext,
				TLSHandshakeTimeout:   timeout,
				ResponseHeaderTimeout: timeout,
				MaxIdleConnsPerHost:   4,
				IdleConnTimeout:       90 * time.Second,
				ForceAttemptHTTP2:     true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Client{public: mk(false), private: mk(true)}
}

// Post sends r as a POST and reports the outcome; it never returns early
// without a Response.
func (c *Client) Post(ctx context.Context, r Request) Response {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return Response{Err: err}
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	hc := c.public
	if r.AllowPrivate {
		hc = c.private
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return Response{Err: cleanErr(err), Latency: time.Since(start)}
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	resp.Body.Close()
	out := Response{StatusCode: resp.StatusCode, Latency: time.Since(start)}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		excerpt := strings.ToValidUTF8(string(body[:min(len(body), 200)]), "")
		out.Err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(excerpt))
	case rerr != nil:
		out.Err = fmt.Errorf("reading the response: %w", rerr)
	}
	return out
}

// cleanErr drops the *url.Error wrapping (method and URL) from a transport
// error, keeping its cause.
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
