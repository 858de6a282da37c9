package domain

import (
	"math"
	"testing"
)

// FuzzGradeCursor holds the grade listing's page token position to a
// round trip and never panics on any input.
func FuzzGradeCursor(f *testing.F) {
	f.Add(0, 55.5, "3:404bc00000000000")
	f.Add(9, -1.0, "x")
	f.Fuzz(func(t *testing.T, rank int, composite float64, s string) {
		if rank >= 0 && !math.IsNaN(composite) {
			gc, ok := parseGradeCursor(&Cursor{Value: formatGradeCursor(rank, composite), ID: "id"})
			if !ok || gc.Rank != rank || gc.Composite != composite || gc.ID != "id" {
				t.Fatalf("(%d, %g) came back as %+v, %v", rank, composite, gc, ok)
			}
		}
		_, _ = parseGradeCursor(&Cursor{Value: s})
	})
}
