package domain_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/domain/conversion"
)

// benchHistories builds n lead histories in memory (no store): each with
// a BANT record at its start, 0-12 interactions of random kinds over its
// first 30 days, and an outcome 8-68 days in.
func benchHistories(n int) ([]*domain.LeadHistory, []time.Time, []float64) {
	rng := rand.New(rand.NewPCG(5, 6))
	kinds := []domain.EventKind{domain.EventKindMeeting, domain.EventKindEmailOpened, domain.EventKindEmailClicked, domain.EventKindCall,
		domain.EventKindSiteVisit, domain.EventKindPageView, domain.EventKindFormSubmission, domain.EventKindChat, domain.EventKindEmailSent}
	channels := []string{"web", "event", "referral", "partner", "ads", "cold"}
	industries := []string{"retail", "software", "finance", "health", "logistics", "energy"}
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := make([]*domain.LeadHistory, n)
	cuts := make([]time.Time, n)
	ys := make([]float64, n)
	for i := range hs {
		start := day0.Add(time.Duration(rng.IntN(365*24)) * time.Hour)
		h := &domain.LeadHistory{Customer: domain.Customer{ID: fmt.Sprintf("%08d", i), Kind: domain.KindLead, CreateTime: start,
			AcquisitionChannel: channels[rng.IntN(len(channels))], Industry: industries[rng.IntN(len(industries))], CompanySize: domain.Size51to200}}
		h.Qualifications = []domain.QualificationChange{{At: start, Qualification: domain.Qualification{Budget: domain.Money(rng.IntN(100_000)) * 1_000_000,
			Authority: domain.AuthorityDecisionMaker}}}
		var score float64
		for k := rng.IntN(13); k > 0; k-- {
			kind := kinds[rng.IntN(len(kinds))]
			if kind == domain.EventKindMeeting {
				score++
			}
			h.Events = append(h.Events, domain.ScoringEvent{Kind: kind, At: start.Add(time.Duration(rng.IntN(6*24)) * time.Hour)})
		}
		domain.SortScoringEvents(h.Events)
		hs[i], cuts[i] = h, start.AddDate(0, 0, 7)
		if rng.Float64() < conversion.Sigmoid(score-1.5) {
			ys[i] = 1
		}
	}
	return hs, cuts, ys
}

// BenchmarkConversionTrain200k is training on 200,000 leads end to end
// after the store's read: every lead's 52 features at its cut-off
// (LeadFeatures), then the fit. The baseline, measured in the same run, is
// computing the features alone.
func BenchmarkConversionTrain200k(b *testing.B) {
	const n = 200_000
	hs, cuts, ys := benchHistories(n)
	names := domain.ConversionSpecOf(hs)
	var feats, total float64
	for b.Loop() {
		t0 := time.Now()
		fs := domain.CompileFeatures(names)
		d := &conversion.Data{X: make([]float64, n*len(names)), Y: ys, N: n, P: len(names)}
		for i, h := range hs {
			fs.Values(d.Row(i), nil, h, cuts[i], "")
		}
		feats += float64(time.Since(t0))
		if _, err := conversion.Fit(d, conversion.Options{}); err != nil {
			b.Fatal(err)
		}
		total += float64(time.Since(t0))
	}
	b.ReportMetric(float64(len(names)), "features")
	b.ReportMetric(total/feats, "x-features-alone")
}

// BenchmarkConversionScore1M scores 1,000,000 open leads as
// GetLeadConversion does (features now, probability, band, top factors),
// cycling over 100,000 in-memory histories, against computing the
// features alone.
func BenchmarkConversionScore1M(b *testing.B) {
	const n, rounds = 100_000, 10
	hs, cuts, ys := benchHistories(n)
	names := domain.ConversionSpecOf(hs[:20_000])
	d := &conversion.Data{N: 20_000, P: len(names), Y: ys[:20_000]}
	for i, h := range hs[:20_000] {
		d.X = append(d.X, domain.LeadFeatures(h, names, cuts[i], "")...)
	}
	m, err := conversion.Fit(d, conversion.Options{})
	if err != nil {
		b.Fatal(err)
	}
	fit := &domain.ConversionFit{Intercept: m.Intercept}
	for j, name := range names {
		fit.Features = append(fit.Features, domain.FeatureWeight{Name: name, Weight: m.Weights[j], Mean: m.Mean[j], Scale: m.Scale[j]})
	}
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := domain.CompileFeatures(names)
	x := make([]float64, len(names))
	var base, score float64
	for b.Loop() {
		t0 := time.Now()
		for r := 0; r < rounds; r++ {
			for _, h := range hs {
				fs.Values(x, nil, h, now, "")
			}
		}
		t1 := time.Now()
		hot := 0
		for r := 0; r < rounds; r++ {
			for _, h := range hs {
				if domain.ScoreLead(fit, fs, h, now, "").Band == domain.BandHot {
					hot++
				}
			}
		}
		base += float64(t1.Sub(t0))
		score += float64(time.Since(t1))
	}
	b.ReportMetric(score/float64(b.N)/(n*rounds), "ns/lead")
	b.ReportMetric(score/base, "x-features-alone")
}
