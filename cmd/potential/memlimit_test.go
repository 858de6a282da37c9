package main

import (
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/KimMachineGun/automemlimit/memlimit"
)

// unsetenv removes key from the environment for the rest of the test.
func unsetenv(t *testing.T, key string) {
	if v, ok := os.LookupEnv(key); ok {
		t.Cleanup(func() { os.Setenv(key, v) })
		os.Unsetenv(key)
	}
}

// TestSetMemoryLimit checks the server's soft memory limit: 90 % of a
// container's limit, none without one, and whatever GOMEMLIMIT set when it
// is in the environment (the provider is then not asked).
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	provider := memoryLimit
	t.Cleanup(func() { memoryLimit = provider })
	unsetenv(t, "GOMEMLIMIT")
	unsetenv(t, "AUTOMEMLIMIT")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := slog.New(slog.DiscardHandler)

	asked, gib := 0, uint64(1<<30)
	memoryLimit = func() (uint64, error) { asked++; return gib, nil }
	want := int64(float64(gib) * 0.9)
	if got, now := setMemoryLimit(ctx, log), debug.SetMemoryLimit(-1); got != want || now != want {
		t.Errorf("with a 1 GiB container: limit %d, runtime's %d; want %d", got, now, want)
	}

	memoryLimit = func() (uint64, error) { asked++; return 0, memlimit.ErrNoLimit }
	if got, now := setMemoryLimit(ctx, log), debug.SetMemoryLimit(-1); got != math.MaxInt64 || now != math.MaxInt64 {
		t.Errorf("without a limit: limit %d, runtime's %d; want none (%d)", got, now, int64(math.MaxInt64))
	}

	debug.SetMemoryLimit(200 << 20)
	t.Setenv("GOMEMLIMIT", "200MiB") // the runtime read it at start
	asked = 0
	memoryLimit = func() (uint64, error) { asked++; return gib, nil }
	if got, now := setMemoryLimit(ctx, log), debug.SetMemoryLimit(-1); got != 200<<20 || now != 200<<20 || asked != 0 {
		t.Errorf("with GOMEMLIMIT: limit %d, runtime's %d, provider asked %d times; want 200 MiB, not asked", got, now, asked)
	}
}
