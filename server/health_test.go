package server_test

import (
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/potentialhq/potential/store/memory"
)

// TestHealthAndReflectionArePublic checks both without credentials, on both ports.
func TestHealthAndReflectionArePublic(t *testing.T) {
	e := start(t, memory.New())
	hc, err := healthpb.NewHealthClient(e.conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: "potential.customer.v1.CustomerService"})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("grpc health: %v, %v", hc, err)
	}
	// Connect's gRPC health handler, called with a grpc-go client on the HTTP port.
	conn := dial(t, e.httpURL[len("http://"):])
	hc, err = healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("http-port health: %v, %v", hc, err)
	}

	for _, addr := range []string{e.grpcAddr, e.httpURL[len("http://"):]} {
		stream, err := reflectionpb.NewServerReflectionClient(dial(t, addr)).ServerReflectionInfo(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection on %s: %v", addr, err)
		}
		found := false
		for _, s := range resp.GetListServicesResponse().GetService() {
			found = found || s.GetName() == "potential.customer.v1.CustomerService"
		}
		if !found {
			t.Fatalf("reflection on %s lists %v", addr, resp.GetListServicesResponse().GetService())
		}
	}
}
