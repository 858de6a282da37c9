package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// demoParams are the parameters of the process the demo data is drawn from,
// in weeks: the BG/NBD purchase process (Fader, Hardie & Lee 2005) and the
// Gamma-Gamma spend model (Fader & Hardie 2013). A fit on the generated data
// should find them again.
var demoParams = struct {
	R, Alpha, A, B float64 // purchase rate ~ Gamma(R, Alpha), dropout ~ Beta(A, B)
	P, Q, Gamma    float64 // spend per purchase ~ Gamma(P, ν), ν ~ Gamma(Q, Gamma)
}{R: 0.6, Alpha: 6, A: 0.7, B: 2.8, P: 5, Q: 4, Gamma: 60}

// demoData is a generated tenant.
type demoData struct {
	customers    []*customerv1.Customer
	transactions []*customerv1.Transaction
	interactions []*customerv1.Interaction
	referrals    []*customerv1.Referral
}

var (
	demoCountries = []struct {
		code   string
		cities []string
		weight float64
	}{
		{"PL", []string{"Warszawa", "Kraków", "Gdańsk", "Wrocław"}, 0.35},
		{"DE", []string{"Berlin", "München", "Hamburg"}, 0.25},
		{"FR", []string{"Paris", "Lyon"}, 0.15},
		{"GB", []string{"London", "Manchester"}, 0.15},
		{"US", []string{"New York", "Chicago", "Austin"}, 0.10},
	}
	demoGiven    = []string{"Anna", "Jan", "Maria", "Piotr", "Lena", "Lukas", "Emma", "Louis", "Olivia", "James", "Zofia", "Hans", "Chloé", "Noah", "Ewa"}
	demoFamily   = []string{"Nowak", "Kowalski", "Müller", "Schmidt", "Martin", "Bernard", "Smith", "Jones", "Wiśniewska", "Fischer", "Dubois", "Brown", "Zieliński"}
	demoChannels = []string{"paid_search", "organic", "referral", "social", "email", "partner"}
	demoIndustry = []string{"retail", "software", "manufacturing", "healthcare", "finance", "education", "logistics"}
)

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// generateDemo draws n customers deterministically from seed, with history
// up to end (UTC day). Customer i's draws depend only on (seed, i), so the
// data set is the same on every machine and run.
func generateDemo(n int, seed uint64, end time.Time) *demoData {
	end = end.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(-2, 0, 0)
	d := &demoData{}
	week := 7 * 24 * time.Hour
	for i := range n {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		src := rand.NewPCG(seed^0x9e3779b97f4a7c15, uint64(i))
		id := fmt.Sprintf("demo-%06d", i+1)
		country := demoCountries[len(demoCountries)-1]
		u := r.Float64()
		for _, c := range demoCountries {
			if u < c.weight {
				country = c
				break
			}
			u -= c.weight
		}
		given, family := pick(r, demoGiven), pick(r, demoFamily)
		c := &customerv1.Customer{
			ExternalId: id, GivenName: given, FamilyName: family,
			Email:   fmt.Sprintf("%s.%s.%d@example.com", asciiLower(given), asciiLower(family), i+1),
			Country: country.code, City: pick(r, country.cities),
			AgeBand:            customerv1.AgeBand(1 + r.IntN(7)),
			Gender:             customerv1.Gender(1 + r.IntN(4)),
			AcquisitionChannel: pick(r, demoChannels),
			Communication:      &customerv1.CommunicationPreferences{AcceptedChannels: []customerv1.Channel{customerv1.Channel_CHANNEL_EMAIL}},
			Kind:               customerv1.CustomerKind_CUSTOMER_KIND_CUSTOMER,
		}
		if r.Float64() < 0.3 {
			c.CompanyName = family + " " + pick(r, []string{"GmbH", "Sp. z o.o.", "Ltd", "SAS", "Inc"})
			c.Industry = pick(r, demoIndustry)
			c.CompanySize = customerv1.CompanySize(1 + r.IntN(6))
		}
		d.customers = append(d.customers, c)
		// One in ten is a lead that has not bought yet.
		if r.Float64() < 0.1 {
			c.Kind = customerv1.CustomerKind_CUSTOMER_KIND_LEAD
			c.Qualification = &customerv1.Qualification{
				Budget:    fmt.Sprintf("%d", 1000*(1+r.IntN(50))),
				Authority: customerv1.Authority(1 + r.IntN(4)),
			}
			d.addInteractions(r, id, start.Add(time.Duration(r.Float64()*float64(end.Sub(start)))), end, 0.5)
			continue
		}
		// BG/NBD: first purchase uniform over the two years; then purchases
		// at rate λ ~ Gamma(r, α) per week until dropout, which happens after
		// each repeat purchase with probability p ~ Beta(a, b).
		lambda := distuv.Gamma{Alpha: demoParams.R, Beta: demoParams.Alpha, Src: src}.Rand()
		p := distuv.Beta{Alpha: demoParams.A, Beta: demoParams.B, Src: src}.Rand()
		nu := distuv.Gamma{Alpha: demoParams.Q, Beta: demoParams.Gamma, Src: src}.Rand()
		spend := distuv.Gamma{Alpha: demoParams.P, Beta: nu, Src: src}
		t := start.Add(time.Duration(r.Float64() * float64(end.Sub(start)-week)))
		for k := 0; ; k++ {
			amount := math.Max(1, math.Round(spend.Rand()*100)/100)
			d.transactions = append(d.transactions, &customerv1.Transaction{
				ExternalId: fmt.Sprintf("%s-o%d", id, k+1), Customer: extRef(id),
				Kind: customerv1.TransactionKind_TRANSACTION_KIND_ORDER, Amount: fmt.Sprintf("%.2f", amount),
				Margin: fmt.Sprintf("%.2f", amount*0.3), Quantity: int64(1 + r.IntN(3)), OccurredAt: timestamppb.New(t),
			})
			// Dropout follows repeat purchases only: a BG/NBD customer is
			// active until at least its first repeat (FHL 2005, eq. 3).
			if k > 0 && r.Float64() < p {
				break
			}
			gap := r.ExpFloat64() / lambda // weeks; may be huge for slow buyers
			if gap >= end.Sub(t).Hours()/(24*7) {
				break
			}
			t = t.Add(time.Duration(gap * float64(week)))
		}
		d.addInteractions(r, id, d.transactions[len(d.transactions)-1].GetOccurredAt().AsTime().AddDate(0, -6, 0), end, lambda*4)
		// Some customers refer another one.
		if i > 0 && r.Float64() < 0.05 {
			d.referrals = append(d.referrals, &customerv1.Referral{
				ExternalId: id + "-ref", Referrer: extRef(id), Referred: extRef(fmt.Sprintf("demo-%06d", 1+r.IntN(i))),
				OccurredAt: timestamppb.New(end.Add(-time.Duration(r.Float64() * float64(365*24*time.Hour)))),
			})
		}
	}
	sort.SliceStable(d.transactions, func(a, b int) bool { return d.transactions[a].GetExternalId() < d.transactions[b].GetExternalId() })
	return d
}

// addInteractions draws e-mails, opens, clicks and site visits from from to
// end at about perMonth a month.
func (d *demoData) addInteractions(r *rand.Rand, id string, from, end time.Time, perMonth float64) {
	perMonth = math.Min(math.Max(perMonth, 0.2), 8)
	month := 30 * 24 * time.Hour
	types := []customerv1.InteractionType{
		customerv1.InteractionType_INTERACTION_TYPE_EMAIL_SENT, customerv1.InteractionType_INTERACTION_TYPE_EMAIL_OPENED,
		customerv1.InteractionType_INTERACTION_TYPE_EMAIL_CLICKED, customerv1.InteractionType_INTERACTION_TYPE_SITE_VISIT,
		customerv1.InteractionType_INTERACTION_TYPE_PAGE_VIEW, customerv1.InteractionType_INTERACTION_TYPE_CALL,
	}
	t := from
	for k := 0; k < 40; k++ {
		t = t.Add(time.Duration(r.ExpFloat64() / perMonth * float64(month)))
		if !t.Before(end) {
			return
		}
		dir := customerv1.Direction_DIRECTION_INBOUND
		typ := pick(r, types)
		if typ == customerv1.InteractionType_INTERACTION_TYPE_EMAIL_SENT || typ == customerv1.InteractionType_INTERACTION_TYPE_CALL {
			dir = customerv1.Direction_DIRECTION_OUTBOUND
		}
		d.interactions = append(d.interactions, &customerv1.Interaction{
			ExternalId: fmt.Sprintf("%s-i%d", id, k+1), Customer: extRef(id), Type: typ, Direction: dir,
			Channel: "web", OccurredAt: timestamppb.New(t),
		})
	}
}

func extRef(id string) *customerv1.CustomerRef {
	return &customerv1.CustomerRef{Ref: &customerv1.CustomerRef_ExternalId{ExternalId: id}}
}

func asciiLower(s string) string {
	out := make([]rune, 0, len(s))
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z':
			out = append(out, c+'a'-'A')
		case c >= 'a' && c <= 'z':
			out = append(out, c)
		default:
			out = append(out, 'x')
		}
	}
	return string(out)
}

// load sends the data set through the API in batches of 1000: customers,
// then transactions, interactions and referrals. Everything carries its own
// id, so loading twice changes nothing.
func (d *demoData) load(ctx context.Context, c customerv1.CustomerServiceClient) error {
	for i := 0; i < len(d.customers); i += 1000 {
		if _, err := c.BatchUpsertCustomers(ctx, &customerv1.BatchUpsertCustomersRequest{Customers: d.customers[i:min(i+1000, len(d.customers))]}); err != nil {
			return fmt.Errorf("customers: %w", err)
		}
	}
	for i := 0; i < len(d.transactions); i += 1000 {
		if _, err := c.RecordTransactions(ctx, &customerv1.RecordTransactionsRequest{Transactions: d.transactions[i:min(i+1000, len(d.transactions))]}); err != nil {
			return fmt.Errorf("transactions: %w", err)
		}
	}
	for i := 0; i < len(d.interactions); i += 1000 {
		if _, err := c.RecordInteractions(ctx, &customerv1.RecordInteractionsRequest{Interactions: d.interactions[i:min(i+1000, len(d.interactions))]}); err != nil {
			return fmt.Errorf("interactions: %w", err)
		}
	}
	for i := 0; i < len(d.referrals); i += 1000 {
		if _, err := c.RecordReferrals(ctx, &customerv1.RecordReferralsRequest{Referrals: d.referrals[i:min(i+1000, len(d.referrals))]}); err != nil {
			return fmt.Errorf("referrals: %w", err)
		}
	}
	return nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		addr, key, endText string
		n                  int
		seed               uint64
	)
	fs := flagSet("demo", stderr)
	fs.StringVar(&addr, "addr", "localhost:9090", describe("addr", "gRPC address of the service"))
	fs.StringVar(&key, "api-key", "", describe("api-key", "API key (role admin or ingest)"))
	fs.IntVar(&n, "customers", 10000, describe("customers", "number of customers and leads to generate"))
	fs.Uint64Var(&seed, "seed", 1, describe("seed", "random seed: the same seed, size and end give the same data"))
	fs.StringVar(&endText, "end", "", describe("end", "last day of the history, YYYY-MM-DD; default today (UTC)"))
	if err := parse(fs, args); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: --api-key or POTENTIAL_API_KEY is required", errUsage)
	}
	if n < 1 || n > 10_000_000 {
		return fmt.Errorf("%w: --customers must be 1-10000000", errUsage)
	}
	end := time.Now().UTC()
	if endText != "" {
		var err error
		if end, err = time.Parse(time.DateOnly, endText); err != nil {
			return fmt.Errorf("%w: --end: %v", errUsage, err)
		}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	d := generateDemo(n, seed, end)
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	if err := d.load(ctx, customerv1.NewCustomerServiceClient(conn)); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "loaded %d customers, %d transactions, %d interactions and %d referrals (seed %d, history to %s)\n",
		len(d.customers), len(d.transactions), len(d.interactions), len(d.referrals), seed, end.Format(time.DateOnly))
	return err
}
