package rfm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRFMScore1M computes the three quintile cut sets of one million
// customers and scores all of them into cells.
func BenchmarkRFMScore1M(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(3, 4))
	recency := make([]float64, n)
	frequency := make([]float64, n)
	monetary := make([]float64, n)
	for i := range recency {
		recency[i] = float64(rng.IntN(730))
		frequency[i] = float64(1 + int(rng.ExpFloat64()*2))
		monetary[i] = float64(int(rng.ExpFloat64()*8000)) / 100
	}
	cells := make([]Cell, n)
	for b.Loop() {
		m, err := Fit(recency, frequency, monetary)
		if err != nil {
			b.Fatal(err)
		}
		for i := range cells {
			cells[i] = m.Cell(recency[i], frequency[i], monetary[i])
		}
	}
}
