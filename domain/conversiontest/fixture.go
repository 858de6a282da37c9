// Package conversiontest generates synthetic tenants whose leads convert
// by a known logistic process, for the tests of predictive lead
// conversion (domain, server). It is test support: it imports domain and
// drives the service as a client would.
package conversiontest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// Generating process. Every lead, created on one of Days consecutive days,
// has meetings ~ Geometric(mean 1) and e-mail opens ~ Geometric(mean 3),
// all within its first two days, a BANT authority drawn uniformly from the
// four levels, a budget known with probability 0.5, and an acquisition
// channel of web, event or referral. It converts with probability
//
//	p = σ(Intercept + WMeetings·log(1+meetings) + WOpens·log(1+opens)
//	      + WDecisionMaker·[decision maker] + WBudgetApprover·[budget approver]
//	      + WBudgetKnown·[budget known] + WReferral·[channel referral])
//
// which is linear in features the model computes (meeting_count_all,
// email_engagement_count_all, the authority and budget indicators,
// acquisition_channel=referral). A converting lead's first order is 8 to
// 68 days after its start (after the default observation age of 7 days,
// within the default window of 90); of the others, half are explicitly
// lost 8 to 68 days in and half just run out of window.
const (
	Intercept       = -1.6
	WMeetings       = 0.9
	WOpens          = 0.6
	WDecisionMaker  = 0.8
	WBudgetApprover = 1.2
	WBudgetKnown    = 0.5
	WReferral       = 0.4
	Days            = 120
)

// Lead is one generated lead and the truth about it.
type Lead struct {
	ExternalID string
	ID         string
	// P is its true conversion probability; Converted what was drawn.
	P         float64
	Converted bool
	Start     time.Time
	// Outcome is when it converted or was lost (start + 90 days when it
	// ran out of window).
	Outcome time.Time
}

// Generate creates n leads in the tenant of ctx, starting at day0, with
// seed, setting the service clock through set (to each creation day, and
// finally to day0 + Days + 100 days, when every window has passed). It
// returns the leads in creation order.
func Generate(tb testing.TB, ctx context.Context, svc *domain.Service, set func(time.Time), day0 time.Time, n int, seed uint64) []Lead {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	geo := func(mean float64) int { return int(math.Floor(rng.ExpFloat64() * mean)) }
	authorities := []domain.Authority{domain.AuthorityNone, domain.AuthorityInfluencer, domain.AuthorityDecisionMaker, domain.AuthorityBudgetApprover}
	channels := []string{"web", "event", "referral"}
	leads := make([]Lead, n)
	var its []domain.Interaction
	var txs []domain.Transaction
	var outs []domain.LeadOutcome
	perDay := (n + Days - 1) / Days
	for d := 0; d*perDay < n; d++ {
		now := day0.AddDate(0, 0, d).Add(9 * time.Hour)
		set(now)
		var batch []domain.Customer
		for i := d * perDay; i < min(n, (d+1)*perDay); i++ {
			ext := fmt.Sprintf("lead-%06d", i)
			auth := authorities[rng.IntN(4)]
			ch := channels[rng.IntN(3)]
			var budget domain.Money
			if rng.Float64() < 0.5 {
				budget = domain.Money(int64(1000+rng.IntN(50000)) * 1_000_000)
			}
			meetings, opens := geo(1), geo(3)
			eta := Intercept + WMeetings*math.Log1p(float64(meetings)) + WOpens*math.Log1p(float64(opens))
			switch auth {
			case domain.AuthorityDecisionMaker:
				eta += WDecisionMaker
			case domain.AuthorityBudgetApprover:
				eta += WBudgetApprover
			}
			if budget > 0 {
				eta += WBudgetKnown
			}
			if ch == "referral" {
				eta += WReferral
			}
			p := 1 / (1 + math.Exp(-eta))
			l := Lead{ExternalID: ext, P: p, Converted: rng.Float64() < p, Start: now}
			batch = append(batch, domain.Customer{ExternalID: ext, Kind: domain.KindLead, DisplayName: ext, AcquisitionChannel: ch,
				Qualification: domain.Qualification{Budget: budget, Authority: auth}})
			for k := 0; k < meetings; k++ {
				its = append(its, domain.Interaction{ExternalID: fmt.Sprintf("%s-m%d", ext, k), Customer: domain.CustomerRef{ExternalID: ext},
					Type: domain.InteractionMeeting, OccurredAt: now.Add(time.Duration(1+rng.IntN(47)) * time.Hour)})
			}
			for k := 0; k < opens; k++ {
				its = append(its, domain.Interaction{ExternalID: fmt.Sprintf("%s-o%d", ext, k), Customer: domain.CustomerRef{ExternalID: ext},
					Type: domain.InteractionEmailOpened, OccurredAt: now.Add(time.Duration(1+rng.IntN(47)) * time.Hour)})
			}
			decided := now.Add(time.Duration(8*24+rng.IntN(60*24)) * time.Hour)
			switch {
			case l.Converted:
				l.Outcome = decided
				txs = append(txs, domain.Transaction{ExternalID: ext + "-order", Customer: domain.CustomerRef{ExternalID: ext},
					Kind: domain.TxOrder, Amount: domain.Money(250 * 1_000_000), OccurredAt: decided})
			case rng.IntN(2) == 0:
				l.Outcome = decided
				outs = append(outs, domain.LeadOutcome{Customer: domain.CustomerRef{ExternalID: ext}, Result: domain.LeadLost, At: decided})
			default:
				l.Outcome = now.AddDate(0, 0, domain.DefaultConversionWindowDays)
			}
			leads[i] = l
		}
		res, err := svc.BatchUpsertCustomers(ctx, batch)
		if err != nil {
			tb.Fatal(err)
		}
		for k, o := range res {
			leads[d*perDay+k].ID = o.Customer.ID
		}
	}
	set(day0.AddDate(0, 0, Days+100))
	for len(its) > 0 {
		k := min(len(its), domain.MaxBatch)
		if _, err := svc.RecordInteractions(ctx, its[:k], false); err != nil {
			tb.Fatal(err)
		}
		its = its[k:]
	}
	for len(txs) > 0 {
		k := min(len(txs), domain.MaxBatch)
		if _, err := svc.RecordTransactions(ctx, txs[:k], false); err != nil {
			tb.Fatal(err)
		}
		txs = txs[k:]
	}
	for len(outs) > 0 {
		k := min(len(outs), domain.MaxBatch)
		if err := svc.SetLeadOutcomes(ctx, outs[:k]); err != nil {
			tb.Fatal(err)
		}
		outs = outs[k:]
	}
	return leads
}
