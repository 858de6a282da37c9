package server

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// enumMap pairs a protobuf enum with the domain's string constants.
type enumMap[P ~int32, D ~string] struct {
	toDomain map[P]D
	toProto  map[D]P
}

func newEnumMap[P ~int32, D ~string](pairs map[P]D) enumMap[P, D] {
	m := enumMap[P, D]{toDomain: pairs, toProto: make(map[D]P, len(pairs))}
	for p, d := range pairs {
		m.toProto[d] = p
	}
	return m
}

// domain returns the domain value of p; the zero enum maps to "".
func (m enumMap[P, D]) domain(p P) D { return m.toDomain[p] }

// proto returns the protobuf value of d; "" and unknown values map to 0.
func (m enumMap[P, D]) proto(d D) P { return m.toProto[d] }

var (
	kinds = newEnumMap(map[customerv1.CustomerKind]domain.CustomerKind{
		customerv1.CustomerKind_CUSTOMER_KIND_LEAD:     domain.KindLead,
		customerv1.CustomerKind_CUSTOMER_KIND_CUSTOMER: domain.KindCustomer,
	})
	channelEnum = newEnumMap(map[customerv1.Channel]domain.Channel{
		customerv1.Channel_CHANNEL_EMAIL:     domain.ChannelEmail,
		customerv1.Channel_CHANNEL_SMS:       domain.ChannelSMS,
		customerv1.Channel_CHANNEL_PHONE:     domain.ChannelPhone,
		customerv1.Channel_CHANNEL_MAIL:      domain.ChannelMail,
		customerv1.Channel_CHANNEL_PUSH:      domain.ChannelPush,
		customerv1.Channel_CHANNEL_MESSENGER: domain.ChannelMessenger,
	})
	ageBandEnum = newEnumMap(map[customerv1.AgeBand]domain.AgeBand{
		customerv1.AgeBand_AGE_BAND_UNDER_18: domain.AgeUnder18,
		customerv1.AgeBand_AGE_BAND_18_24:    domain.Age18to24,
		customerv1.AgeBand_AGE_BAND_25_34:    domain.Age25to34,
		customerv1.AgeBand_AGE_BAND_35_44:    domain.Age35to44,
		customerv1.AgeBand_AGE_BAND_45_54:    domain.Age45to54,
		customerv1.AgeBand_AGE_BAND_55_64:    domain.Age55to64,
		customerv1.AgeBand_AGE_BAND_65_PLUS:  domain.Age65Plus,
	})
	genderEnum = newEnumMap(map[customerv1.Gender]domain.Gender{
		customerv1.Gender_GENDER_FEMALE:      domain.GenderFemale,
		customerv1.Gender_GENDER_MALE:        domain.GenderMale,
		customerv1.Gender_GENDER_OTHER:       domain.GenderOther,
		customerv1.Gender_GENDER_UNDISCLOSED: domain.GenderUndisclosed,
	})
	companySizeEnum = newEnumMap(map[customerv1.CompanySize]domain.CompanySize{
		customerv1.CompanySize_COMPANY_SIZE_1_10:      domain.Size1to10,
		customerv1.CompanySize_COMPANY_SIZE_11_50:     domain.Size11to50,
		customerv1.CompanySize_COMPANY_SIZE_51_200:    domain.Size51to200,
		customerv1.CompanySize_COMPANY_SIZE_201_1000:  domain.Size201to1000,
		customerv1.CompanySize_COMPANY_SIZE_1001_5000: domain.Size1001to5k,
		customerv1.CompanySize_COMPANY_SIZE_5001_PLUS: domain.Size5001Plus,
	})
	authorityEnum = newEnumMap(map[customerv1.Authority]domain.Authority{
		customerv1.Authority_AUTHORITY_NONE:            domain.AuthorityNone,
		customerv1.Authority_AUTHORITY_INFLUENCER:      domain.AuthorityInfluencer,
		customerv1.Authority_AUTHORITY_DECISION_MAKER:  domain.AuthorityDecisionMaker,
		customerv1.Authority_AUTHORITY_BUDGET_APPROVER: domain.AuthorityBudgetApprover,
	})
	txKindEnum = newEnumMap(map[customerv1.TransactionKind]domain.TransactionKind{
		customerv1.TransactionKind_TRANSACTION_KIND_ORDER:  domain.TxOrder,
		customerv1.TransactionKind_TRANSACTION_KIND_REFUND: domain.TxRefund,
	})
	interactionEnum = newEnumMap(map[customerv1.InteractionType]domain.InteractionType{
		customerv1.InteractionType_INTERACTION_TYPE_CALL:              domain.InteractionCall,
		customerv1.InteractionType_INTERACTION_TYPE_EMAIL_SENT:        domain.InteractionEmailSent,
		customerv1.InteractionType_INTERACTION_TYPE_EMAIL_OPENED:      domain.InteractionEmailOpened,
		customerv1.InteractionType_INTERACTION_TYPE_EMAIL_CLICKED:     domain.InteractionEmailClicked,
		customerv1.InteractionType_INTERACTION_TYPE_MEETING:           domain.InteractionMeeting,
		customerv1.InteractionType_INTERACTION_TYPE_CHAT:              domain.InteractionChat,
		customerv1.InteractionType_INTERACTION_TYPE_SITE_VISIT:        domain.InteractionSiteVisit,
		customerv1.InteractionType_INTERACTION_TYPE_PAGE_VIEW:         domain.InteractionPageView,
		customerv1.InteractionType_INTERACTION_TYPE_FORM_SUBMISSION:   domain.InteractionFormSubmission,
		customerv1.InteractionType_INTERACTION_TYPE_SOCIAL_ENGAGEMENT: domain.InteractionSocial,
	})
	directionEnum = newEnumMap(map[customerv1.Direction]domain.Direction{
		customerv1.Direction_DIRECTION_INBOUND:  domain.DirectionInbound,
		customerv1.Direction_DIRECTION_OUTBOUND: domain.DirectionOutbound,
	})
)

func toTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().UTC()
}

func fromTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// money parses an optional decimal field; field names the API path for errors.
func money(field, s string) (domain.Money, error) {
	if s == "" {
		return 0, nil
	}
	m, err := domain.ParseMoney(s)
	if err != nil {
		return 0, domain.Invalid(field, "%v", err)
	}
	return m, nil
}

func moneyString(m domain.Money) string { return m.String() }

// customerFromProto converts the client-set fields of p. Output-only fields
// are ignored.
func customerFromProto(p *customerv1.Customer) (domain.Customer, error) {
	c := domain.Customer{
		ExternalID:         p.GetExternalId(),
		Kind:               kinds.domain(p.GetKind()),
		DisplayName:        p.GetDisplayName(),
		GivenName:          p.GetGivenName(),
		FamilyName:         p.GetFamilyName(),
		CompanyName:        p.GetCompanyName(),
		Email:              p.GetEmail(),
		Phone:              p.GetPhone(),
		Country:            p.GetCountry(),
		Region:             p.GetRegion(),
		City:               p.GetCity(),
		AgeBand:            ageBandEnum.domain(p.GetAgeBand()),
		Gender:             genderEnum.domain(p.GetGender()),
		Industry:           p.GetIndustry(),
		CompanySize:        companySizeEnum.domain(p.GetCompanySize()),
		AcquisitionChannel: p.GetAcquisitionChannel(),
	}
	for _, ch := range p.GetCommunication().GetAcceptedChannels() {
		c.AcceptedChannels = append(c.AcceptedChannels, channelEnum.domain(ch))
	}
	if len(p.GetAttributes()) > 0 {
		c.Attributes = make(map[string]domain.AttributeValue, len(p.GetAttributes()))
		for k, v := range p.GetAttributes() {
			var a domain.AttributeValue
			switch x := v.GetKind().(type) {
			case *customerv1.AttributeValue_StringValue:
				a = domain.AttributeValue{Kind: domain.AttrString, String: x.StringValue}
			case *customerv1.AttributeValue_NumberValue:
				a = domain.AttributeValue{Kind: domain.AttrNumber, Number: x.NumberValue}
			case *customerv1.AttributeValue_BoolValue:
				a = domain.AttributeValue{Kind: domain.AttrBool, Bool: x.BoolValue}
			case *customerv1.AttributeValue_TimeValue:
				a = domain.AttributeValue{Kind: domain.AttrTime, Time: toTime(x.TimeValue).Truncate(time.Microsecond)}
			default:
				return c, domain.Invalid("customer.attributes", "value of %q has no type", k)
			}
			c.Attributes[k] = a
		}
	}
	q := p.GetQualification()
	budget, err := money("customer.qualification.budget", q.GetBudget())
	if err != nil {
		return c, err
	}
	c.Qualification = domain.Qualification{
		Budget:       budget,
		Authority:    authorityEnum.domain(q.GetAuthority()),
		Need:         q.GetNeed(),
		DecisionTime: toTime(q.GetDecisionTime()).Truncate(time.Microsecond),
	}
	return c, nil
}

func customerToProto(c *domain.Customer) *customerv1.Customer {
	p := &customerv1.Customer{
		Id:                 c.ID,
		ExternalId:         c.ExternalID,
		Kind:               kinds.proto(c.Kind),
		DisplayName:        c.DisplayName,
		GivenName:          c.GivenName,
		FamilyName:         c.FamilyName,
		CompanyName:        c.CompanyName,
		Email:              c.Email,
		Phone:              c.Phone,
		Country:            c.Country,
		Region:             c.Region,
		City:               c.City,
		AgeBand:            ageBandEnum.proto(c.AgeBand),
		Gender:             genderEnum.proto(c.Gender),
		Industry:           c.Industry,
		CompanySize:        companySizeEnum.proto(c.CompanySize),
		AcquisitionChannel: c.AcquisitionChannel,
		CreateTime:         fromTime(c.CreateTime),
		UpdateTime:         fromTime(c.UpdateTime),
		Etag:               domain.ETag(c.Version),
		Assessment:         assessmentSummaryToProto(&c.Assessment),
		Grade:              c.Grade,
	}
	if len(c.AcceptedChannels) > 0 {
		p.Communication = &customerv1.CommunicationPreferences{}
		for _, ch := range c.AcceptedChannels {
			p.Communication.AcceptedChannels = append(p.Communication.AcceptedChannels, channelEnum.proto(ch))
		}
	}
	if len(c.Attributes) > 0 {
		p.Attributes = make(map[string]*customerv1.AttributeValue, len(c.Attributes))
		for k, a := range c.Attributes {
			v := &customerv1.AttributeValue{}
			switch a.Kind {
			case domain.AttrString:
				v.Kind = &customerv1.AttributeValue_StringValue{StringValue: a.String}
			case domain.AttrNumber:
				v.Kind = &customerv1.AttributeValue_NumberValue{NumberValue: a.Number}
			case domain.AttrBool:
				v.Kind = &customerv1.AttributeValue_BoolValue{BoolValue: a.Bool}
			case domain.AttrTime:
				v.Kind = &customerv1.AttributeValue_TimeValue{TimeValue: timestamppb.New(a.Time)}
			}
			p.Attributes[k] = v
		}
	}
	q := c.Qualification
	if q != (domain.Qualification{}) {
		p.Qualification = &customerv1.Qualification{
			Authority:    authorityEnum.proto(q.Authority),
			Need:         q.Need,
			DecisionTime: fromTime(q.DecisionTime),
		}
		if q.Budget != 0 {
			p.Qualification.Budget = moneyString(q.Budget)
		}
	}
	s := c.Purchases
	p.Purchases = &customerv1.PurchaseStats{
		FirstPurchaseTime: fromTime(s.FirstPurchaseTime),
		LastPurchaseTime:  fromTime(s.LastPurchaseTime),
		PurchaseDays:      s.PurchaseDays,
		Orders:            s.Orders,
		Refunds:           s.Refunds,
		TotalSpend:        moneyString(s.TotalSpend),
		RepeatSpend:       moneyString(s.RepeatSpend()),
		RefundTotal:       moneyString(s.RefundTotal),
		NetSpend:          moneyString(s.NetSpend()),
		TotalMargin:       moneyString(s.TotalMargin),
	}
	e := c.Engagement
	p.Engagement = &customerv1.EngagementStats{
		Interactions:        e.Interactions,
		LastInteractionTime: fromTime(e.LastInteractionTime),
		ReferralsGiven:      e.ReferralsGiven,
		ReferredBy:          e.ReferredBy,
	}
	return p
}

func refFromProto(r *customerv1.CustomerRef) domain.CustomerRef {
	return domain.CustomerRef{ID: r.GetId(), ExternalID: r.GetExternalId()}
}

func transactionFromProto(i int, p *customerv1.Transaction) (domain.Transaction, error) {
	path := fmt.Sprintf("transactions[%d]", i)
	amount, err := money(path+".amount", p.GetAmount())
	if err != nil {
		return domain.Transaction{}, err
	}
	margin, err := money(path+".margin", p.GetMargin())
	if err != nil {
		return domain.Transaction{}, err
	}
	return domain.Transaction{
		ExternalID: p.GetExternalId(),
		Customer:   refFromProto(p.GetCustomer()),
		Kind:       txKindEnum.domain(p.GetKind()),
		Amount:     amount,
		Margin:     margin,
		HasMargin:  p.GetMargin() != "",
		Quantity:   p.GetQuantity(),
		OccurredAt: toTime(p.GetOccurredAt()),
	}, nil
}

func interactionFromProto(p *customerv1.Interaction) domain.Interaction {
	return domain.Interaction{
		ExternalID: p.GetExternalId(),
		Customer:   refFromProto(p.GetCustomer()),
		Type:       interactionEnum.domain(p.GetType()),
		Direction:  directionEnum.domain(p.GetDirection()),
		Channel:    p.GetChannel(),
		OccurredAt: toTime(p.GetOccurredAt()),
	}
}

func referralFromProto(p *customerv1.Referral) domain.Referral {
	return domain.Referral{
		ExternalID: p.GetExternalId(),
		Referrer:   refFromProto(p.GetReferrer()),
		Referred:   refFromProto(p.GetReferred()),
		OccurredAt: toTime(p.GetOccurredAt()),
	}
}
