package server_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/potentialhq/potential/store/memory"
)

// registeredMethods lists every RPC of Potential's own services, found in
// the global registry (every generated file registers itself).
func registeredMethods() []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !bytes.HasPrefix([]byte(fd.Package()), []byte("potential.")) {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			ms := fd.Services().Get(i).Methods()
			for j := 0; j < ms.Len(); j++ {
				out = append(out, ms.Get(j))
			}
		}
		return true
	})
	return out
}

func procedure(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

// TestEveryRPCNeedsAKey calls every RPC without a key, with a malformed one
// and with an unknown one, on both ports: each is Unauthenticated.
func TestEveryRPCNeedsAKey(t *testing.T) {
	e := start(t, memory.New())
	methods := registeredMethods()
	if len(methods) < 15 {
		t.Fatalf("found only %d RPCs", len(methods))
	}
	for _, key := range []string{"", "Bearer nonsense", "Bearer pk_test_wrongsecretwrongsecret", "Basic " + adminKey} {
		for _, m := range methods {
			// gRPC port, with dynamic messages of the method's types.
			ctx := t.Context()
			if key != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", key)
			}
			req := dynamicpb.NewMessage(m.Input())
			resp := dynamicpb.NewMessage(m.Output())
			err := e.conn.Invoke(ctx, procedure(m), req, resp)
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("grpc %s with %q: %v, want Unauthenticated", procedure(m), key, err)
			}
			// HTTP port, Connect JSON: unary calls answer 401; streaming
			// calls (enveloped) answer 200 with the error in the end-of-stream message.
			body, ctype := []byte("{}"), "application/json"
			if m.IsStreamingServer() || m.IsStreamingClient() {
				body, ctype = []byte{0, 0, 0, 0, 2, '{', '}'}, "application/connect+json"
			}
			hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.httpURL+procedure(m), bytes.NewReader(body))
			hr.Header.Set("Content-Type", ctype)
			if key != "" {
				hr.Header.Set("Authorization", key)
			}
			res, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(res.Body)
			res.Body.Close()
			streamDenied := res.StatusCode == http.StatusOK && bytes.Contains(out, []byte(`"code":"unauthenticated"`))
			if res.StatusCode != http.StatusUnauthorized && !streamDenied {
				t.Errorf("connect %s with %q: HTTP %d %s, want unauthenticated", procedure(m), key, res.StatusCode, out)
			}
		}
	}
}
