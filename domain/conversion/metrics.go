package conversion

import (
	"fmt"
	"math"
	"slices"
)

// AUC returns the area under the ROC curve of scores p against 0/1 labels
// y: the probability that a random positive scores above a random negative,
// ties counting one half. It is the Mann-Whitney U statistic over n1·n0
// (Hanley & McNeil, Radiology 143 (1982), eq. 1), computed from mid-ranks
// in O(n log n). NaN when either class is empty.
func AUC(p, y []float64) float64 {
	n := len(p)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	var rankSum, n1 float64
	for i := 0; i < n; {
		j := i
		for j < n && p[idx[j]] == p[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankSum += mid
				n1++
			}
		}
		i = j
	}
	n0 := float64(n) - n1
	if n1 == 0 || n0 == 0 {
		return math.NaN()
	}
	return (rankSum - n1*(n1+1)/2) / (n1 * n0)
}

// Brier returns the Brier score (1/n) Σ (p_i - y_i)² (Brier, Monthly Weather
// Review 78 (1950), eq. 1): 0 is perfect, and always predicting the base
// rate π scores π(1-π).
func Brier(p, y []float64) float64 {
	var s float64
	for i := range p {
		d := p[i] - y[i]
		s += d * d
	}
	return s / float64(len(p))
}

// LogLoss returns the mean negative log-likelihood -(1/n) Σ [y log p +
// (1-y) log(1-p)], with p clamped to [1e-15, 1-1e-15].
func LogLoss(p, y []float64) float64 {
	var s float64
	for i := range p {
		q := min(max(p[i], 1e-15), 1-1e-15)
		s -= y[i]*math.Log(q) + (1-y[i])*math.Log(1-q)
	}
	return s / float64(len(p))
}

// CalibrationBin is one row of a calibration table: the rows whose
// predictions fall in one decile, their mean predicted probability and the
// share of them that converted.
type CalibrationBin struct {
	Decile        int // 1 (lowest predictions) to 10
	Count         int
	MeanPredicted float64
	ObservedRate  float64
}

// Calibration returns the reliability table by predicted decile (Hosmer &
// Lemeshow's "deciles of risk", Applied Logistic Regression §5.2.2): rows
// sorted by prediction and cut into ten groups of sizes differing by at
// most one (rows with equal predictions can fall on both sides of a cut).
// With fewer than ten rows some deciles are empty and left out.
func Calibration(p, y []float64) []CalibrationBin {
	n := len(p)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case p[a] < p[b]:
			return -1
		case p[a] > p[b]:
			return 1
		}
		return 0
	})
	var out []CalibrationBin
	for d := 0; d < 10; d++ {
		lo, hi := d*n/10, (d+1)*n/10
		if hi == lo {
			continue
		}
		b := CalibrationBin{Decile: d + 1, Count: hi - lo}
		for _, i := range idx[lo:hi] {
			b.MeanPredicted += p[i]
			b.ObservedRate += y[i]
		}
		b.MeanPredicted /= float64(b.Count)
		b.ObservedRate /= float64(b.Count)
		out = append(out, b)
	}
	return out
}

// Evaluation is how a model does on a labelled data set.
type Evaluation struct {
	N, Positives int
	AUC          float64
	Brier        float64
	LogLoss      float64
	Calibration  []CalibrationBin
}

// Evaluate scores p against y.
func Evaluate(p, y []float64) (Evaluation, error) {
	if len(p) != len(y) || len(p) == 0 {
		return Evaluation{}, fmt.Errorf("%w: %d predictions for %d labels", ErrInvalidInput, len(p), len(y))
	}
	e := Evaluation{N: len(p), AUC: AUC(p, y), Brier: Brier(p, y), LogLoss: LogLoss(p, y), Calibration: Calibration(p, y)}
	for _, v := range y {
		if v == 1 {
			e.Positives++
		}
	}
	return e, nil
}
