package domain

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func nps(score int, when string) FeedbackFact {
	return FeedbackFact{CustomerID: "c", Kind: FeedbackNPS, Score: score, OccurredAt: at(when)}
}

func rating(score int, when string) FeedbackFact {
	return FeedbackFact{CustomerID: "c", Kind: FeedbackRating, Score: score, OccurredAt: at(when)}
}

func complaint(topic string, status ComplaintStatus, when, resolved string) FeedbackFact {
	f := FeedbackFact{CustomerID: "c", Kind: FeedbackComplaint, Topic: topic, Status: status, OccurredAt: at(when)}
	if resolved != "" {
		f.ResolveTime = at(resolved)
	}
	return f
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestSummarizeFeedbackHandChecked runs the summary over three ISO weeks
// across the turn of the year, in UTC: 2025-W52 (Dec 22-28), 2026-W01
// (2025-12-29 to 2026-01-04) and 2026-W02 (Jan 5-11).
//
// Hand computation:
//
//	NPS answers         W52: 10 10 9 6      P=3 Pa=0 D=1 N=4  NPS = 100·(3−1)/4 = 50
//	                    W01: 9 9 8 7 2      P=2 Pa=2 D=1 N=5  NPS = 100·(2−1)/5 = 20
//	                    W02: 10 0 0         P=1 Pa=0 D=2 N=3  NPS = 100·(1−2)/3 = −33.33…
//	                    all                 P=6 Pa=2 D=4 N=12 NPS = 100·(6−4)/12 = 16.67
//	Ratings (CSAT)      W52: 5 4 (avg 4.5)  W01: 4 3 1 (avg 8/3)  W02: 5 2 4 (avg 11/3)
//	                    all: sum 28 / 8 = 3.5; 1:1 2:1 3:1 4:3 5:2; 4-5 = 5/8 = 62.5 %
//	Complaints opened   c1 W52 delivery resolved_unjustified (after 24 h, in W52)
//	                    c2 W01 delivery in_progress
//	                    c3 W01 billing  resolved_justified (after 84 h, in W02)
//	                    c4 W02 (none)   open
//	                    c6 W02 delivery withdrawn
//	                    c7 W02 billing  resolved_justified after the period
//	                    c5 occurred before the period, resolved in W01 after 672 h
//	  opened 6: open 1, in_progress 1, resolved_justified 2, resolved_unjustified 1, withdrawn 1
//	  by topic: "" 1 (open); billing 2 (resolved_justified); delivery 3
//	  resolved in the period: 24 h, 672 h, 84 h → median 84 h
//	Outside: an NPS at the end instant and a rating a second before the start.
func TestSummarizeFeedbackHandChecked(t *testing.T) {
	t.Parallel()
	facts := []FeedbackFact{
		nps(10, "2025-12-22T00:00:00Z"), nps(10, "2025-12-24T10:00:00Z"), nps(9, "2025-12-25T10:00:00Z"), nps(6, "2025-12-28T23:59:59Z"),
		nps(9, "2025-12-29T00:30:00Z"), nps(9, "2025-12-31T10:00:00Z"), nps(8, "2026-01-01T10:00:00Z"), nps(7, "2026-01-02T10:00:00Z"), nps(2, "2026-01-04T23:30:00Z"),
		nps(10, "2026-01-05T00:00:00Z"), nps(0, "2026-01-07T10:00:00Z"), nps(0, "2026-01-11T23:59:59Z"),
		nps(0, "2026-01-12T00:00:00Z"), // at the end: outside
		rating(5, "2025-12-23T10:00:00Z"), rating(4, "2025-12-27T10:00:00Z"),
		rating(4, "2025-12-30T10:00:00Z"), rating(3, "2026-01-01T10:00:00Z"), rating(1, "2026-01-03T10:00:00Z"),
		rating(5, "2026-01-06T10:00:00Z"), rating(2, "2026-01-08T10:00:00Z"), rating(4, "2026-01-10T10:00:00Z"),
		rating(1, "2025-12-21T23:59:59Z"), // before the start: outside
		complaint("delivery", ComplaintResolvedUnjustified, "2025-12-22T10:00:00Z", "2025-12-23T10:00:00Z"),
		complaint("delivery", ComplaintInProgress, "2025-12-30T08:00:00Z", ""),
		complaint("billing", ComplaintResolvedJustified, "2026-01-02T12:00:00Z", "2026-01-06T00:00:00Z"),
		complaint("", ComplaintOpen, "2026-01-05T09:00:00Z", ""),
		complaint("delivery", ComplaintResolvedJustified, "2025-12-01T00:00:00Z", "2025-12-29T00:00:00Z"),
		complaint("delivery", ComplaintWithdrawn, "2026-01-07T00:00:00Z", ""),
		complaint("billing", ComplaintResolvedJustified, "2026-01-08T00:00:00Z", "2026-01-20T00:00:00Z"),
		{Kind: FeedbackPraise, OccurredAt: at("2025-12-24T00:00:00Z")}, {Kind: FeedbackPraise, OccurredAt: at("2026-01-09T00:00:00Z")},
		{Kind: FeedbackQuestion, OccurredAt: at("2026-01-01T00:00:00Z")}, {Kind: FeedbackSuggestion, OccurredAt: at("2026-01-02T00:00:00Z")},
	}
	s := SummarizeFeedback(facts, at("2025-12-22T00:00:00Z"), at("2026-01-12T00:00:00Z"), time.UTC)

	wantCounts := map[FeedbackKind]int64{FeedbackNPS: 12, FeedbackRating: 8, FeedbackComplaint: 6, FeedbackPraise: 2, FeedbackQuestion: 1, FeedbackSuggestion: 1}
	if !reflect.DeepEqual(s.Counts, wantCounts) {
		t.Errorf("counts = %v, want %v", s.Counts, wantCounts)
	}
	if want := (NPSStats{Responses: 12, Promoters: 6, Passives: 2, Detractors: 4}); s.NPS != want || !near(s.NPS.Score(), 100.0*2/12) {
		t.Errorf("NPS = %+v (%.4f), want %+v (16.6667)", s.NPS, s.NPS.Score(), want)
	}
	if want := (CSATStats{Responses: 8, Distribution: [5]int64{1, 1, 1, 3, 2}, Sum: 28}); s.CSAT != want || s.CSAT.Average() != 3.5 || s.CSAT.SatisfiedPercent() != 62.5 {
		t.Errorf("CSAT = %+v avg %v satisfied %v, want %+v avg 3.5 satisfied 62.5", s.CSAT, s.CSAT.Average(), s.CSAT.SatisfiedPercent(), want)
	}
	c := s.Complaints
	wantStatus := map[ComplaintStatus]int64{ComplaintOpen: 1, ComplaintInProgress: 1, ComplaintResolvedJustified: 2, ComplaintResolvedUnjustified: 1, ComplaintWithdrawn: 1}
	if c.Opened != 6 || !reflect.DeepEqual(c.ByStatus, wantStatus) || c.Resolved != 3 || c.MedianTimeToResolve != 84*time.Hour {
		t.Errorf("complaints = %+v", c)
	}
	wantTopics := []TopicComplaints{
		{Topic: "", Total: 1, ByStatus: map[ComplaintStatus]int64{ComplaintOpen: 1}},
		{Topic: "billing", Total: 2, ByStatus: map[ComplaintStatus]int64{ComplaintResolvedJustified: 2}},
		{Topic: "delivery", Total: 3, ByStatus: map[ComplaintStatus]int64{ComplaintResolvedUnjustified: 1, ComplaintInProgress: 1, ComplaintWithdrawn: 1}},
	}
	if !reflect.DeepEqual(c.ByTopic, wantTopics) {
		t.Errorf("by topic = %+v\nwant %+v", c.ByTopic, wantTopics)
	}

	type week struct {
		label             string
		start             string
		nps               NPSStats
		npsScore, csatAvg float64
		csat              int64
		opened, resolved  int64
		median            time.Duration
	}
	want := []week{
		{"2025-W52", "2025-12-22T00:00:00Z", NPSStats{4, 3, 0, 1}, 50, 4.5, 2, 1, 1, 24 * time.Hour},
		{"2026-W01", "2025-12-29T00:00:00Z", NPSStats{5, 2, 2, 1}, 20, 8.0 / 3, 3, 2, 1, 672 * time.Hour},
		{"2026-W02", "2026-01-05T00:00:00Z", NPSStats{3, 1, 0, 2}, -100.0 / 3, 11.0 / 3, 3, 3, 1, 84 * time.Hour},
	}
	if len(s.Weeks) != len(want) {
		t.Fatalf("%d weeks, want %d: %+v", len(s.Weeks), len(want), s.Weeks)
	}
	for i, w := range s.Weeks {
		x := want[i]
		if w.Label() != x.label || !w.Start.Equal(at(x.start)) || w.NPS != x.nps || !near(w.NPS.Score(), x.npsScore) ||
			!near(w.CSAT.Average(), x.csatAvg) || w.CSAT.Responses != x.csat || w.ComplaintsOpened != x.opened ||
			w.ComplaintsResolved != x.resolved || w.MedianTimeToResolve != x.median {
			t.Errorf("week %d = %s %v %+v (NPS %.2f, CSAT %.3f/%d) opened %d resolved %d median %v\nwant %+v",
				i, w.Label(), w.Start, w.NPS, w.NPS.Score(), w.CSAT.Average(), w.CSAT.Responses, w.ComplaintsOpened, w.ComplaintsResolved, w.MedianTimeToResolve, x)
		}
	}
	if got := s.Weeks[1].Counts[FeedbackNPS]; got != 5 {
		t.Errorf("W01 NPS count = %d, want 5", got)
	}
}

// TestSummarizeFeedbackTimeZone: 2026-01-04T23:30Z is Sunday in UTC
// (2026-W01) but Monday 00:30 in Europe/Warsaw (UTC+1 in winter), 2026-W02.
func TestSummarizeFeedbackTimeZone(t *testing.T) {
	t.Parallel()
	warsaw, err := time.LoadLocation("Europe/Warsaw")
	if err != nil {
		t.Fatal(err)
	}
	facts := []FeedbackFact{
		nps(10, "2026-01-04T23:30:00Z"), // Monday 00:30 in Warsaw
		nps(0, "2026-01-04T22:30:00Z"),  // Sunday 23:30 in Warsaw
		complaint("x", ComplaintResolvedJustified, "2026-01-01T00:00:00Z", "2026-01-04T23:30:00Z"),
	}
	for _, tc := range []struct {
		loc    *time.Location
		start  time.Time
		end    time.Time
		starts []string
		nps    []NPSStats
		res    []int64
	}{
		{time.UTC, at("2025-12-29T00:00:00Z"), at("2026-01-12T00:00:00Z"),
			[]string{"2025-12-29T00:00:00Z", "2026-01-05T00:00:00Z"},
			[]NPSStats{{2, 1, 0, 1}, {}}, []int64{1, 0}},
		{warsaw, time.Date(2025, 12, 29, 0, 0, 0, 0, warsaw), time.Date(2026, 1, 12, 0, 0, 0, 0, warsaw),
			[]string{"2025-12-28T23:00:00Z", "2026-01-04T23:00:00Z"},
			[]NPSStats{{1, 0, 0, 1}, {1, 1, 0, 0}}, []int64{0, 1}},
	} {
		s := SummarizeFeedback(facts, tc.start, tc.end, tc.loc)
		if len(s.Weeks) != 2 {
			t.Fatalf("%s: %d weeks", tc.loc, len(s.Weeks))
		}
		for i, w := range s.Weeks {
			if !w.Start.Equal(at(tc.starts[i])) || w.NPS != tc.nps[i] || w.ComplaintsResolved != tc.res[i] || w.Start.Location() != tc.loc || w.Start.Weekday() != time.Monday {
				t.Errorf("%s week %d (%s) starts %v NPS %+v resolved %d; want %s %+v %d",
					tc.loc, i, w.Label(), w.Start, w.NPS, w.ComplaintsResolved, tc.starts[i], tc.nps[i], tc.res[i])
			}
		}
		if s.Weeks[0].Label() != "2026-W01" || s.Weeks[1].Label() != "2026-W02" {
			t.Errorf("%s: labels %s %s", tc.loc, s.Weeks[0].Label(), s.Weeks[1].Label())
		}
	}
}

func TestWeekStartAndLabels(t *testing.T) {
	t.Parallel()
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		t     time.Time
		loc   *time.Location
		start time.Time
		label string
	}{
		{at("2025-12-29T00:00:00Z"), time.UTC, at("2025-12-29T00:00:00Z"), "2026-W01"},
		{at("2026-01-04T23:59:59Z"), time.UTC, at("2025-12-29T00:00:00Z"), "2026-W01"},
		{at("2024-12-30T12:00:00Z"), time.UTC, at("2024-12-30T00:00:00Z"), "2025-W01"},
		{at("2027-01-03T12:00:00Z"), time.UTC, at("2026-12-28T00:00:00Z"), "2026-W53"},
		{at("2027-01-04T00:00:00Z"), time.UTC, at("2027-01-04T00:00:00Z"), "2027-W01"},
		{at("2021-01-03T12:00:00Z"), time.UTC, at("2020-12-28T00:00:00Z"), "2020-W53"},
		// The week of the switch to daylight saving time (2026-03-08) starts at 00:00 EST.
		{at("2026-03-10T12:00:00Z"), ny, at("2026-03-09T04:00:00Z"), "2026-W11"},
		{at("2026-03-08T12:00:00Z"), ny, at("2026-03-02T05:00:00Z"), "2026-W10"},
	} {
		ws := weekStart(tc.t, tc.loc)
		y, w := ws.ISOWeek()
		if !ws.Equal(tc.start) || (FeedbackWeek{Year: y, Week: w}).Label() != tc.label {
			t.Errorf("weekStart(%v, %s) = %v (%d-W%02d), want %v %s", tc.t, tc.loc, ws, y, w, tc.start, tc.label)
		}
	}
	// A period across the year boundary of a 53-week year has every week, once.
	s := SummarizeFeedback(nil, at("2026-12-21T00:00:00Z"), at("2027-01-11T00:00:00Z"), time.UTC)
	var labels []string
	for _, w := range s.Weeks {
		labels = append(labels, w.Label())
	}
	if want := []string{"2026-W52", "2026-W53", "2027-W01"}; !reflect.DeepEqual(labels, want) {
		t.Errorf("weeks %v, want %v", labels, want)
	}
}

func TestMedianDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{3 * time.Hour, 1 * time.Hour, 2 * time.Hour}, 2 * time.Hour},
		{[]time.Duration{time.Hour, 10 * time.Hour, 3 * time.Hour, 2 * time.Hour}, 150 * time.Minute},
	} {
		if got := medianDuration(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
