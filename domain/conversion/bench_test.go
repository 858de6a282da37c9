package conversion

import (
	"math/rand/v2"
	"testing"
)

func benchWeights(p int) []float64 {
	rng := rand.New(rand.NewPCG(11, 12))
	w := make([]float64, p)
	for j := range w {
		w[j] = rng.NormFloat64() * 0.3
	}
	return w
}

// onePass is the baseline of both benchmarks: one pass over the design
// matrix computing a dot product per row, which is the least any fit
// (one pass per L-BFGS evaluation) or any scoring must do.
func onePass(d *Data, w []float64) float64 {
	var s float64
	for i := 0; i < d.N; i++ {
		r := d.Row(i)
		var eta float64
		for j, v := range r {
			eta += w[j] * v
		}
		s += eta
	}
	return s
}

var sink float64

// BenchmarkTrain200kx30 fits the model on 200,000 leads of 30 features and
// reports the time of one fit against one pass over the data (the
// baseline, measured in the same run): the ratio is about the number of
// objective-and-gradient evaluations the fit needed, times two.
func BenchmarkTrain200kx30(b *testing.B) {
	d, _ := synthetic(21, 200_000, -1, benchWeights(30))
	w := benchWeights(30)
	var base, fit, iters float64
	for b.Loop() {
		b.StopTimer()
		t0 := nanotime()
		sink += onePass(d, w)
		base += float64(nanotime() - t0)
		b.StartTimer()
		t1 := nanotime()
		m, err := Fit(d, Options{})
		if err != nil {
			b.Fatal(err)
		}
		fit += float64(nanotime() - t1)
		iters += float64(m.Iterations)
	}
	b.ReportMetric(fit/base, "x-one-pass")
	b.ReportMetric(iters/float64(b.N), "iterations")
}

// BenchmarkScore1M scores 1,000,000 leads of 30 features (probability and
// the per-feature contributions of each) against one pass over the data.
func BenchmarkScore1M(b *testing.B) {
	const n = 1_000_000
	d, _ := synthetic(22, n, -1, benchWeights(30))
	m, err := Fit(slice(d, 0, 20_000), Options{})
	if err != nil {
		b.Fatal(err)
	}
	w := benchWeights(30)
	out := make([]float64, n)
	contrib := make([]float64, 30)
	var base, score float64
	for b.Loop() {
		b.StopTimer()
		t0 := nanotime()
		sink += onePass(d, w)
		base += float64(nanotime() - t0)
		b.StartTimer()
		t1 := nanotime()
		for i := range out {
			x := d.Row(i)
			out[i] = m.Probability(x)
			m.ContributionsInto(contrib, x)
		}
		score += float64(nanotime() - t1)
	}
	b.ReportMetric(score/base, "x-one-pass")
	b.ReportMetric(score/float64(b.N)/n, "ns/lead")
}
