package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assetRe finds the files index.html loads.
var assetRe = regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)

func TestIndexAndEveryAssetItNames(t *testing.T) {
	h := Handler()
	res := get(t, h, "GET", "/", nil)
	if res.StatusCode != 200 {
		t.Fatalf("GET / = %d", res.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-cache",
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("GET / %s = %q, want %q", k, got, want)
		}
	}
	index := body(t, res)
	if !strings.Contains(index, `<div id="app">`) {
		t.Fatalf("index.html has no app root:\n%s", index)
	}
	refs := assetRe.FindAllStringSubmatch(index, -1)
	var scripts, styles int
	for _, m := range refs {
		ref := m[1]
		res := get(t, h, "GET", ref, nil)
		if res.StatusCode != 200 {
			t.Errorf("GET %s (named by index.html) = %d", ref, res.StatusCode)
			continue
		}
		ct := res.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(ref, ".js"):
			scripts++
			if !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("GET %s Content-Type = %q", ref, ct)
			}
		case strings.HasSuffix(ref, ".css"):
			styles++
			if !strings.HasPrefix(ct, "text/css") {
				t.Errorf("GET %s Content-Type = %q", ref, ct)
			}
		}
		if strings.HasPrefix(ref, "/assets/") && res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s Cache-Control = %q, want immutable", ref, res.Header.Get("Cache-Control"))
		}
	}
	if scripts == 0 || styles == 0 {
		t.Errorf("index.html names %d scripts and %d style sheets, want both: %v", scripts, styles, refs)
	}
}

func TestDistIsLean(t *testing.T) {
	h := Handler().(*handler)
	var total int
	for name, f := range h.files {
		if strings.HasSuffix(name, ".map") {
			t.Errorf("dist has a source map: %s", name)
		}
		if f.gz != nil {
			total += len(f.gz)
		} else {
			total += len(f.body)
		}
	}
	// Everything a browser downloads, compressed. Raise it knowingly.
	if total > 200<<10 {
		t.Errorf("dist is %d KiB gzipped, over 200 KiB", total>>10)
	}
}

func TestGzipAndConditionalGet(t *testing.T) {
	h := Handler()
	index := body(t, get(t, h, "GET", "/", nil))
	js := assetRe.FindStringSubmatch(index)
	if js == nil {
		t.Fatal("no asset in index.html")
	}
	plain := get(t, h, "GET", js[1], nil)
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatalf("gzip sent to a client that did not ask for it")
	}
	want := body(t, plain)

	zipped := get(t, h, "GET", js[1], map[string]string{"Accept-Encoding": "br, gzip"})
	if zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", zipped.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || string(got) != want {
		t.Fatalf("gunzipped body differs from the plain one (%v)", err)
	}

	etag := plain.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res := get(t, h, "GET", js[1], map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag = %d, want 304", res.StatusCode)
	}
	if res := get(t, h, "GET", js[1], map[string]string{"If-None-Match": `"stale"`}); res.StatusCode != 200 {
		t.Errorf("If-None-Match with another ETag = %d, want 200", res.StatusCode)
	}
	head := get(t, h, "HEAD", "/", nil)
	if head.StatusCode != 200 || body(t, head) != "" {
		t.Errorf("HEAD / = %d with a body", head.StatusCode)
	}
}

func TestRefusals(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"GET", "/no-such-file.js", 404},
		{"GET", "/assets/", 404},
		{"GET", "/potential.customer.v1.CustomerService/ListCustomers", 404},
		{"POST", "/", 405},
		{"DELETE", "/favicon.svg", 405},
	} {
		if res := get(t, h, tc.method, tc.target, nil); res.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.target, res.StatusCode, tc.want)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                 false,
		"gzip":             true,
		"deflate, gzip":    true,
		"gzip;q=0.5":       true,
		"gzip; q=0":        false,
		"br":               false,
		"identity, GZIP":   true,
		"x-gzip-something": false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Encoding", header)
		if got := acceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
