package domain

import (
	"net/mail"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// CustomerKind tells leads (not yet bought) from customers.
type CustomerKind string

// Customer kinds.
const (
	KindLead     CustomerKind = "lead"
	KindCustomer CustomerKind = "customer"
)

// Channel is a communication channel a customer may accept.
type Channel string

// Channels.
const (
	ChannelEmail     Channel = "email"
	ChannelSMS       Channel = "sms"
	ChannelPhone     Channel = "phone"
	ChannelMail      Channel = "mail"
	ChannelPush      Channel = "push"
	ChannelMessenger Channel = "messenger"
)

var channels = map[Channel]bool{ChannelEmail: true, ChannelSMS: true, ChannelPhone: true, ChannelMail: true, ChannelPush: true, ChannelMessenger: true}

// AgeBand is a coarse age bracket; exact ages are not needed and are more sensitive.
type AgeBand string

// Age bands.
const (
	AgeUnder18 AgeBand = "under_18"
	Age18to24  AgeBand = "18_24"
	Age25to34  AgeBand = "25_34"
	Age35to44  AgeBand = "35_44"
	Age45to54  AgeBand = "45_54"
	Age55to64  AgeBand = "55_64"
	Age65Plus  AgeBand = "65_plus"
)

var ageBands = map[AgeBand]bool{AgeUnder18: true, Age18to24: true, Age25to34: true, Age35to44: true, Age45to54: true, Age55to64: true, Age65Plus: true}

// Gender as the customer declared it.
type Gender string

// Genders.
const (
	GenderFemale      Gender = "female"
	GenderMale        Gender = "male"
	GenderOther       Gender = "other"
	GenderUndisclosed Gender = "undisclosed"
)

var genders = map[Gender]bool{GenderFemale: true, GenderMale: true, GenderOther: true, GenderUndisclosed: true}

// CompanySize is a head-count band of a business customer.
type CompanySize string

// Company sizes (employees).
const (
	Size1to10     CompanySize = "1_10"
	Size11to50    CompanySize = "11_50"
	Size51to200   CompanySize = "51_200"
	Size201to1000 CompanySize = "201_1000"
	Size1001to5k  CompanySize = "1001_5000"
	Size5001Plus  CompanySize = "5001_plus"
)

var companySizes = map[CompanySize]bool{Size1to10: true, Size11to50: true, Size51to200: true, Size201to1000: true, Size1001to5k: true, Size5001Plus: true}

// Authority is the lead contact's buying authority (the A of BANT).
type Authority string

// Authority levels.
const (
	AuthorityNone           Authority = "none"
	AuthorityInfluencer     Authority = "influencer"
	AuthorityDecisionMaker  Authority = "decision_maker"
	AuthorityBudgetApprover Authority = "budget_approver"
)

var authorities = map[Authority]bool{AuthorityNone: true, AuthorityInfluencer: true, AuthorityDecisionMaker: true, AuthorityBudgetApprover: true}

// Qualification holds the BANT facts of a lead: budget, authority, need, timeline.
type Qualification struct {
	Budget       Money     // what the lead can spend; 0 = unknown
	Authority    Authority // "" = unknown
	Need         string    // the need in the lead's words
	DecisionTime time.Time // expected decision date (timeline); zero = unknown
}

// AttributeKind is the type of a custom attribute value.
type AttributeKind string

// Attribute kinds.
const (
	AttrString AttributeKind = "string"
	AttrNumber AttributeKind = "number"
	AttrBool   AttributeKind = "bool"
	AttrTime   AttributeKind = "time"
)

// AttributeValue is a typed custom attribute value; exactly the field of its Kind is meaningful.
type AttributeValue struct {
	Kind   AttributeKind
	String string
	Number float64
	Bool   bool
	Time   time.Time
}

// PurchaseStats are a customer's purchase aggregates, maintained by the store
// in the same database transaction that records a transaction. Days are UTC
// calendar days; all transactions of one day count as one purchase, as in
// the BG/NBD literature.
type PurchaseStats struct {
	FirstPurchaseTime time.Time // earliest order; zero if none
	LastPurchaseTime  time.Time // latest order; zero if none
	PurchaseDays      int64     // distinct UTC days with an order
	Orders            int64     // order transactions
	Refunds           int64     // refund transactions
	TotalSpend        Money     // sum of orders
	FirstDaySpend     Money     // sum of orders on the first purchase day
	RefundTotal       Money     // sum of refunds (positive)
	TotalMargin       Money     // sum of order margins where known
	// MedianGapDays is the median number of days between consecutive
	// purchase days (0 with fewer than two); the customer's own cadence.
	MedianGapDays float64
	// LastGapDays is the number of days between the last two purchase days
	// (0 with fewer than two); a long one means the customer came back.
	LastGapDays int64
}

// RepeatSpend is the spend on days after the first purchase day; Gamma-Gamma's
// monetary input is RepeatSpend / (PurchaseDays-1).
func (s PurchaseStats) RepeatSpend() Money { return s.TotalSpend - s.FirstDaySpend }

// NetSpend is orders minus refunds: the historical value.
func (s PurchaseStats) NetSpend() Money { return s.TotalSpend - s.RefundTotal }

// EngagementStats count a customer's interactions and referrals.
type EngagementStats struct {
	Interactions        int64
	LastInteractionTime time.Time
	ReferralsGiven      int64
	ReferredBy          string // customer id of the referrer, if known
}

// Customer is a lead or a customer of a tenant.
type Customer struct {
	ID         string
	TenantID   string
	ExternalID string // the CRM's id; unique per tenant when set
	Kind       CustomerKind

	DisplayName string
	GivenName   string
	FamilyName  string
	CompanyName string
	Email       string
	Phone       string

	AcceptedChannels []Channel // channels the customer consented to, sorted

	Country            string // ISO 3166-1 alpha-2, upper case
	Region             string
	City               string
	AgeBand            AgeBand
	Gender             Gender
	Industry           string
	CompanySize        CompanySize
	AcquisitionChannel string

	Attributes    map[string]AttributeValue
	Qualification Qualification

	Purchases  PurchaseStats   // read-only, maintained by the store
	Engagement EngagementStats // read-only, maintained by the store
	Assessment Assessment      // read-only, the stored assessment (zero if none yet)
	// Grade is the customer's stored grade under the tenant's grading
	// policy, "" if not graded yet. Read-only: Service.ListCustomers sets
	// it; stores and the other reads leave it empty.
	Grade string

	CreateTime time.Time
	UpdateTime time.Time
	Version    int64 // incremented by every update; the etag is derived from it
}

var (
	externalIDRe = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
	phoneRe      = regexp.MustCompile(`^\+?[0-9 ()./-]{3,32}$`)
	countryRe    = regexp.MustCompile(`^[A-Z]{2}$`)
	attrKeyRe    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

// MaxAttributes bounds the custom attributes of one customer.
const MaxAttributes = 64

// Normalize canonicalises free-form fields in place: trims spaces, upper-cases
// the country, lower-cases the email, sorts and deduplicates channels.
func (c *Customer) Normalize() {
	for _, s := range []*string{&c.DisplayName, &c.GivenName, &c.FamilyName, &c.CompanyName, &c.Email, &c.Phone, &c.Country, &c.Region, &c.City, &c.Industry, &c.AcquisitionChannel, &c.ExternalID} {
		*s = strings.TrimSpace(*s)
	}
	c.Email = strings.ToLower(c.Email)
	c.Country = strings.ToUpper(c.Country)
	if c.Kind == "" {
		c.Kind = KindCustomer
	}
	if c.DisplayName == "" {
		c.DisplayName = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
		if c.DisplayName == "" {
			c.DisplayName = c.CompanyName
		}
	}
	seen := map[Channel]bool{}
	out := c.AcceptedChannels[:0]
	for _, ch := range c.AcceptedChannels {
		if !seen[ch] {
			seen[ch] = true
			out = append(out, ch)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	c.AcceptedChannels = out
}

// Validate checks the fields a client sets. Field names are the API's.
func (c *Customer) Validate() error {
	var v violations
	if c.ExternalID != "" && !externalIDRe.MatchString(c.ExternalID) {
		v.add("external_id", "must be 1-128 printable ASCII characters without spaces")
	}
	if c.Kind != KindLead && c.Kind != KindCustomer {
		v.add("kind", "must be lead or customer")
	}
	for name, s := range map[string]string{"display_name": c.DisplayName, "given_name": c.GivenName, "family_name": c.FamilyName, "company_name": c.CompanyName, "region": c.Region, "city": c.City, "industry": c.Industry, "acquisition_channel": c.AcquisitionChannel} {
		if !utf8.ValidString(s) || len(s) > 256 {
			v.add(name, "must be valid UTF-8 of at most 256 bytes")
		}
	}
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email || !strings.Contains(c.Email[strings.LastIndexByte(c.Email, '@'):], ".") {
			v.add("email", "%q is not a valid e-mail address", c.Email)
		}
	}
	if c.Phone != "" && !phoneRe.MatchString(c.Phone) {
		v.add("phone", "must be a phone number of digits, spaces and + ( ) . / -")
	}
	for i, ch := range c.AcceptedChannels {
		if !channels[ch] {
			v.add("communication.accepted_channels", "channel %d (%q) is unknown", i, ch)
		}
	}
	if c.Country != "" && !countryRe.MatchString(c.Country) {
		v.add("country", "must be an ISO 3166-1 alpha-2 code such as PL")
	}
	if c.AgeBand != "" && !ageBands[c.AgeBand] {
		v.add("age_band", "unknown age band %q", c.AgeBand)
	}
	if c.Gender != "" && !genders[c.Gender] {
		v.add("gender", "unknown gender %q", c.Gender)
	}
	if c.CompanySize != "" && !companySizes[c.CompanySize] {
		v.add("company_size", "unknown company size %q", c.CompanySize)
	}
	if len(c.Attributes) > MaxAttributes {
		v.add("attributes", "at most %d attributes", MaxAttributes)
	}
	for k, a := range c.Attributes {
		if !attrKeyRe.MatchString(k) {
			v.add("attributes", "key %q must match [a-z][a-z0-9_]{0,62}", k)
		}
		switch a.Kind {
		case AttrString:
			if len(a.String) > 1024 || !utf8.ValidString(a.String) {
				v.add("attributes", "value of %q must be valid UTF-8 of at most 1024 bytes", k)
			}
		case AttrNumber, AttrBool, AttrTime:
		default:
			v.add("attributes", "value of %q has no type", k)
		}
	}
	q := c.Qualification
	if q.Budget < 0 {
		v.add("qualification.budget", "must not be negative")
	}
	if q.Authority != "" && !authorities[q.Authority] {
		v.add("qualification.authority", "unknown authority %q", q.Authority)
	}
	if len(q.Need) > 2048 || !utf8.ValidString(q.Need) {
		v.add("qualification.need", "must be valid UTF-8 of at most 2048 bytes")
	}
	return v.err()
}
