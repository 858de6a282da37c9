package server

import (
	"fmt"
	"net/http"
	"net/url"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
)

// corsHandler lets browser applications served from origins call the API
// (Connect and gRPC-Web, with an API key in the Authorization header). With
// no origins it returns h as it is: browsers then allow only pages of the
// API's own origin to read its answers, which is the default, and the
// advice (serve the dashboard from the same origin). A wildcard is refused:
// it would let any web page use a key that a user pasted into it.
func corsHandler(h http.Handler, origins []string) (http.Handler, error) {
	if len(origins) == 0 {
		return h, nil
	}
	if err := CheckOrigins(origins); err != nil {
		return nil, err
	}
	c := cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds a browser may cache a preflight answer
	})
	return c.Handler(h), nil
}

// CheckOrigins reports an error unless every origin is scheme://host[:port]
// with scheme http or https, as browsers send it in the Origin header.
func CheckOrigins(origins []string) error {
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || o != u.Scheme+"://"+u.Host {
			return fmt.Errorf("CORS origin %q: want scheme://host[:port], e.g. https://dashboard.example.com", o)
		}
	}
	return nil
}
