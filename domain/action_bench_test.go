package domain

import (
	"fmt"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain/rfm"
)

// BenchmarkActionInSegments measures what reading `action` adds to a
// segment evaluation batch: 2,000 customers' facts evaluated against the
// same three dynamic segments, once with rules that do not read `action`
// (the baseline) and once with one that does, so the default action table
// (five rules and a rendered reason) is decided for every customer. It
// reports the ratio of the two in the same run:
//
//	go test -run '^$' -bench BenchmarkActionInSegments -benchtime 20x ./domain/
func BenchmarkActionInSegments(b *testing.B) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	facts := make([]SegmentFacts, 2000)
	stages := []LifecycleStage{StageLead, StageNew, StageActive, StageAtRisk}
	for i := range facts {
		f := &facts[i]
		f.Customer = Customer{ID: fmt.Sprintf("c%05d", i), Kind: KindCustomer, Country: "PL", City: "Kraków"}
		f.Customer.Assessment = Assessment{AssessTime: now, Stage: stages[i%len(stages)], Churn: ChurnLevel(i % 4),
			PredictedValue: MoneyFromFloat(float64(i)), Segment: rfm.Segment(i % 11)}
		f.OpenComplaints = int64(i % 17 / 16)
		if i%5 == 0 {
			f.Customer.Kind = KindLead
			f.Conversion = &LeadScore{Probability: float64(i%100) / 100, Band: BandOf(float64(i%100) / 100)}
		}
	}
	base := []Segment{
		{ID: "a", Kind: SegmentDynamic, Rule: `clv.predicted > 500.0`},
		{ID: "b", Kind: SegmentDynamic, Rule: `churn.level == "high"`},
		{ID: "c", Kind: SegmentDynamic, Rule: `conversion.probability > 0.5`},
	}
	withAction := append(base[:2:2], Segment{ID: "c", Kind: SegmentDynamic, Rule: `action.name == "call"`})
	run := func(sgs []Segment) time.Duration {
		batch := &SegmentBatch{Segments: sgs, Facts: facts}
		start := time.Now()
		for range b.N {
			if _, err := decideSegments(batch, nil, now); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	run(base) // warm the rule caches
	run(withAction)
	b.ResetTimer()
	tb := run(base)
	ta := run(withAction)
	b.ReportMetric(float64(tb.Nanoseconds())/float64(b.N)/float64(len(facts)), "ns/customer-baseline")
	b.ReportMetric(float64(ta.Nanoseconds())/float64(b.N)/float64(len(facts)), "ns/customer-with-action")
	b.ReportMetric(float64(ta)/float64(tb), "ratio")
}
