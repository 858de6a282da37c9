// Package web serves Potential's browser dashboard: the files that
// `npm run build` writes to web/dist, embedded into the binary, so that
// `potential serve` serves the page and the API from one origin and a
// fresh clone runs without Node. The sources are under web/src; dist/ is
// committed and scripts/check-generated fails when it is stale.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// contentSecurityPolicy lets the page load only its own scripts and styles
// and call only its own origin: the dashboard needs nothing else, and an
// injected script could otherwise send the API key elsewhere.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	name  string
	body  []byte
	gz    []byte // gzip of body, when that is smaller
	etag  string
	ctype string
	// immutable is true for content-hashed files under assets/: their name
	// changes whenever their content does, so they can be cached for good.
	immutable bool
}

// Handler returns the dashboard's handler: GET and HEAD of "/" (index.html)
// and of every file in dist, gzip-encoded for clients that accept it, with
// an ETag; 404 for anything else. Mount it at "/" beside the API, whose
// paths (/<package>.<Service>/<Method>) never collide with the dashboard's.
func Handler() http.Handler {
	files, err := load(dist)
	if err != nil {
		// The embedded tree is fixed at build time; a bad one is a build bug.
		panic("web: " + err.Error())
	}
	return &handler{files: files}
}

func load(fsys fs.FS) (map[string]*file, error) {
	root, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	files := map[string]*file{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &file{
			name:      name,
			body:      body,
			etag:      `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			ctype:     mime.TypeByExtension(path.Ext(name)),
			immutable: strings.HasPrefix(name, "assets/"),
		}
		if f.ctype == "" {
			f.ctype = http.DetectContentType(body)
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			f.gz = buf.Bytes()
		}
		files[name] = f
		return nil
	})
	return files, err
}

type handler struct {
	files map[string]*file
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	f := h.files[name]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Add("Vary", "Accept-Encoding")
	if f.immutable {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// index.html names the current assets: always revalidate it.
		hd.Set("Cache-Control", "no-cache")
	}
	if name == "index.html" {
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r) {
		hd.Set("Content-Encoding", "gzip")
		body = f.gz
		// A range of the encoded body is of no use to anyone: send it whole.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	// ServeContent answers If-None-Match with 304, and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
