package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// buildBinary compiles the command once per test binary run.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "potential")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("go build: %v", err)
	}
	return bin
}

var servingRe = regexp.MustCompile(`serving gRPC on (\S+) and Connect/gRPC-Web/gRPC on (\S+)`)

// startBinary runs "potential serve" with args and returns the process and
// its two addresses, read from its first line of output.
func startBinary(tb testing.TB, bin string, env []string, args ...string) (*exec.Cmd, string, string, *bytes.Buffer) {
	tb.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := servingRe.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stdout)
			return cmd, m[1], m[2], &logs
		}
	}
	tb.Fatalf("server did not start: %s", logs.String())
	return nil, "", "", nil
}

// TestServeDrainsOnSIGTERM runs the real binary: health is SERVING, and
// SIGTERM makes it exit 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	bin := buildBinary(t)
	cmd, grpcAddr, _, logs := startBinary(t, bin, []string{"POTENTIAL_BOOTSTRAP_KEY=pk_test_0123456789abcdef"}, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0")
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10 s of SIGTERM")
	}
}

// TestGeneratedKeyIsPrintedOnce checks that an empty store without a
// configured key gets a generated admin key, printed on standard output.
func TestGeneratedKeyIsPrintedOnce(t *testing.T) {
	var out lockedBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, &out, io.Discard)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "serving gRPC") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !regexp.MustCompile(`(?m)^\s+pk_[a-z2-7]+_[a-z2-7]+$`).MatchString(out.String()) {
		t.Fatalf("no generated key in output:\n%s", out.String())
	}
}

// TestUsageErrors checks exit code 2 for unknown commands and bad flags.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"serve", "--no-such-flag"}, {"serve", "--log-format", "xml"}, {"migrate"}} {
		if code := run(t.Context(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	t.Setenv("POTENTIAL_LOG_LEVEL", "loud")
	if code := run(t.Context(), []string{"serve"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("bad env value: exit %d, want 2", code)
	}
}

// TestReadmeExamples runs the README's "Try it" shell blocks, as written,
// against the README's run command.
func TestReadmeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and grpcurl")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	run := regexp.MustCompile("(?m)^(POTENTIAL_BOOTSTRAP_KEY=\\S+) go run ./cmd/potential serve$").FindStringSubmatch(string(readme))
	if run == nil {
		t.Fatal("README has no run command")
	}
	section := string(readme)[strings.Index(string(readme), "## Try it"):]
	section = section[:strings.Index(section, "\n## ")]
	var script strings.Builder
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		script.WriteString(block[1])
	}
	bin := buildBinary(t)
	startBinary(t, bin, []string{run[1]})
	// Use grpcurl from PATH, else the pinned version through the module proxy.
	prelude := "set -euo pipefail\ncommand -v grpcurl >/dev/null || grpcurl() { go run github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4 \"$@\"; }\n"
	sh := exec.CommandContext(t.Context(), "bash", "-c", prelude+script.String())
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("README examples failed: %v\n%s", err, out)
	}
	for _, want := range []string{"potential.customer.v1.CustomerService", `"createdCount": 2`, `"totalSpend": "169.99"`, `"city":"Kraków"`, `"purchaseDays":"2"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("README output lacks %s:\n%s", want, out)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
