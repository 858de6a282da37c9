package domain

import (
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // IANA zones for summaries, wherever the binary runs
)

// NPSStats count NPS answers (0-10): promoters answered 9 or 10, passives
// 7 or 8, detractors 0 to 6.
type NPSStats struct {
	Responses, Promoters, Passives, Detractors int64
}

// Score is the Net Promoter Score: the percentage of promoters minus the
// percentage of detractors, 100 × (promoters − detractors) / responses,
// between −100 and 100 (Reichheld, "The One Number You Need to Grow",
// HBR 2003); 0 without responses.
func (n NPSStats) Score() float64 {
	if n.Responses == 0 {
		return 0
	}
	return 100 * float64(n.Promoters-n.Detractors) / float64(n.Responses)
}

func (n *NPSStats) add(score int) {
	n.Responses++
	switch {
	case score >= 9:
		n.Promoters++
	case score >= 7:
		n.Passives++
	default:
		n.Detractors++
	}
}

// CSATStats count satisfaction ratings (1-5).
type CSATStats struct {
	Responses int64
	// Distribution[i] counts ratings of i+1.
	Distribution [5]int64
	Sum          int64
}

// Average is the mean rating; 0 without responses.
func (c CSATStats) Average() float64 {
	if c.Responses == 0 {
		return 0
	}
	return float64(c.Sum) / float64(c.Responses)
}

// SatisfiedPercent is the CSAT score as usually reported: the percentage
// of ratings that are 4 or 5; 0 without responses.
func (c CSATStats) SatisfiedPercent() float64 {
	if c.Responses == 0 {
		return 0
	}
	return 100 * float64(c.Distribution[3]+c.Distribution[4]) / float64(c.Responses)
}

func (c *CSATStats) add(score int) {
	if score < 1 || score > 5 {
		return
	}
	c.Responses++
	c.Distribution[score-1]++
	c.Sum += int64(score)
}

// TopicComplaints counts complaints about one topic by status.
type TopicComplaints struct {
	Topic    string // "" for complaints without a topic
	ByStatus map[ComplaintStatus]int64
	Total    int64
}

// ComplaintStats summarise complaints over a period.
type ComplaintStats struct {
	// Opened counts complaints that occurred in the period; ByStatus and
	// ByTopic split them by their current status and topic.
	Opened   int64
	ByStatus map[ComplaintStatus]int64
	ByTopic  []TopicComplaints // by topic, byte order
	// Resolved counts complaints whose current resolution happened in the
	// period (whenever they occurred); MedianTimeToResolve is the median
	// time from their occurred_at to that resolution (the mean of the two
	// middle values for an even count; 0 when none).
	Resolved            int64
	MedianTimeToResolve time.Duration
}

// FeedbackWeek is one ISO 8601 week of a summary's trend, in the summary's
// time zone.
type FeedbackWeek struct {
	Year, Week int       // ISO year and week number, e.g. 2026 and 1
	Start      time.Time // Monday 00:00 in the time zone
	Counts     map[FeedbackKind]int64
	NPS        NPSStats
	CSAT       CSATStats
	// ComplaintsOpened counts complaints that occurred in the week;
	// ComplaintsResolved those resolved in it, with their median time to
	// resolve.
	ComplaintsOpened    int64
	ComplaintsResolved  int64
	MedianTimeToResolve time.Duration
}

// Label returns the ISO week as "2026-W01".
func (w FeedbackWeek) Label() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// FeedbackSummary aggregates feedback over [Start, End).
type FeedbackSummary struct {
	Start, End time.Time
	Location   *time.Location
	// Counts per kind of the feedback that occurred in the period.
	Counts     map[FeedbackKind]int64
	NPS        NPSStats
	CSAT       CSATStats
	Complaints ComplaintStats
	// Weeks is the weekly trend: every ISO week that overlaps the period,
	// oldest first, empty weeks included.
	Weeks []FeedbackWeek
}

// weekStart returns the Monday 00:00, in loc, of the ISO week that holds t.
func weekStart(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, m, d := lt.Date()
	back := (int(lt.Weekday()) + 6) % 7 // days since Monday
	return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
}

// SummarizeFeedback aggregates facts over [start, end) in time zone loc.
// Feedback counts, NPS, CSAT and opened complaints go by occurred_at;
// resolutions by their resolve time. A week is an ISO 8601 week (Monday to
// Sunday; week 1 holds the year's first Thursday) of local time in loc, so
// 2025-12-29 to 2026-01-04 is 2026-W01, and 2026-01-04T23:30Z is Monday
// 2026-01-05 in Europe/Warsaw (2026-W02) but Sunday in UTC (2026-W01).
func SummarizeFeedback(facts []FeedbackFact, start, end time.Time, loc *time.Location) FeedbackSummary {
	if loc == nil {
		loc = time.UTC
	}
	s := FeedbackSummary{
		Start: start, End: end, Location: loc, Counts: map[FeedbackKind]int64{},
		Complaints: ComplaintStats{ByStatus: map[ComplaintStatus]int64{}},
	}
	index := map[int64]int{} // by the Unix time of the week's start
	for ws := weekStart(start, loc); ws.Before(end); ws = time.Date(ws.Year(), ws.Month(), ws.Day()+7, 0, 0, 0, 0, loc) {
		y, w := ws.ISOWeek()
		index[ws.Unix()] = len(s.Weeks)
		s.Weeks = append(s.Weeks, FeedbackWeek{Year: y, Week: w, Start: ws, Counts: map[FeedbackKind]int64{}})
	}
	week := func(t time.Time) *FeedbackWeek {
		if i, ok := index[weekStart(t, loc).Unix()]; ok {
			return &s.Weeks[i]
		}
		return nil
	}
	in := func(t time.Time) bool { return !t.IsZero() && !t.Before(start) && t.Before(end) }
	topics := map[string]*TopicComplaints{}
	var resolveAll []time.Duration
	resolveWeek := make([][]time.Duration, len(s.Weeks))
	for _, f := range facts {
		if w := week(f.OccurredAt); w != nil && in(f.OccurredAt) {
			s.Counts[f.Kind]++
			w.Counts[f.Kind]++
			switch f.Kind {
			case FeedbackNPS:
				s.NPS.add(f.Score)
				w.NPS.add(f.Score)
			case FeedbackRating:
				s.CSAT.add(f.Score)
				w.CSAT.add(f.Score)
			case FeedbackComplaint:
				c := &s.Complaints
				c.Opened++
				c.ByStatus[f.Status]++
				tc := topics[f.Topic]
				if tc == nil {
					tc = &TopicComplaints{Topic: f.Topic, ByStatus: map[ComplaintStatus]int64{}}
					topics[f.Topic] = tc
				}
				tc.ByStatus[f.Status]++
				tc.Total++
				w.ComplaintsOpened++
			}
		}
		if f.Kind == FeedbackComplaint && f.Status.Resolved() && in(f.ResolveTime) {
			d := max(f.ResolveTime.Sub(f.OccurredAt), 0)
			resolveAll = append(resolveAll, d)
			if i, ok := index[weekStart(f.ResolveTime, loc).Unix()]; ok {
				s.Weeks[i].ComplaintsResolved++
				resolveWeek[i] = append(resolveWeek[i], d)
			}
		}
	}
	s.Complaints.Resolved = int64(len(resolveAll))
	s.Complaints.MedianTimeToResolve = medianDuration(resolveAll)
	for i := range s.Weeks {
		s.Weeks[i].MedianTimeToResolve = medianDuration(resolveWeek[i])
	}
	for _, tc := range topics {
		s.Complaints.ByTopic = append(s.Complaints.ByTopic, *tc)
	}
	slices.SortFunc(s.Complaints.ByTopic, func(a, b TopicComplaints) int {
		switch {
		case a.Topic < b.Topic:
			return -1
		case a.Topic > b.Topic:
			return 1
		}
		return 0
	})
	return s
}

// medianDuration is the median of ds (the mean of the two middle values
// for an even count), 0 for none. It sorts ds.
func medianDuration(ds []time.Duration) time.Duration {
	n := len(ds)
	if n == 0 {
		return 0
	}
	slices.Sort(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
}
