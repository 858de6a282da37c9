package domain_test

import (
	"testing"
	"time"

	"github.com/potentialhq/potential/domain"
)

// TestAssessmentReadsWriteOnlyChanges checks that reading an assessment
// stores it only when it differs from the stored one: within a day the
// models' figures stand, and the stored assessment keeps its time; a day
// later the silence has grown and the read stores the new assessment.
func TestAssessmentReadsWriteOnlyChanges(t *testing.T) {
	e := newFeedbackEnv(t)
	ref := domain.CustomerRef{ID: e.cust.ID}
	if _, err := e.svc.RecordTransactions(e.ctx, []domain.Transaction{{ExternalID: "o1", Customer: ref, Kind: domain.TxOrder,
		Amount: domain.MoneyFromFloat(50), OccurredAt: e.now.Add(-48 * time.Hour)}}, false); err != nil {
		t.Fatal(err)
	}
	stored := func() domain.Assessment {
		t.Helper()
		c, err := e.svc.GetCustomer(e.ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return c.Assessment
	}
	first, err := e.svc.GetCustomerAssessment(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	before := stored()
	if before.AssessTime.IsZero() || before.SilenceDays != first.Assessment.SilenceDays {
		t.Fatalf("stored %+v after the first read %+v", before, first.Assessment)
	}
	e.advance(time.Hour)
	again, err := e.svc.GetCustomerAssessment(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.AssessTime.Equal(before.AssessTime) {
		t.Fatalf("an unchanged assessment was written again: %v, then %v", before.AssessTime, got.AssessTime)
	}
	if !again.Assessment.AssessTime.Equal(e.svc.Now()) || again.Assessment.SilenceDays != first.Assessment.SilenceDays {
		t.Fatalf("the read is not as of now: %+v", again.Assessment)
	}
	e.advance(24 * time.Hour)
	later, err := e.svc.GetCustomerAssessment(e.ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	got := stored()
	if later.Assessment.SilenceDays != first.Assessment.SilenceDays+1 || got.SilenceDays != later.Assessment.SilenceDays || !got.AssessTime.Equal(e.svc.Now()) {
		t.Fatalf("a day later: read %+v, stored %+v", later.Assessment, got)
	}
	if first.Conversion != nil {
		t.Fatalf("a customer has a lead conversion: %+v", first.Conversion)
	}
}

// TestLeadAssessmentCarriesConversion checks that a lead's assessment
// carries its conversion output: without a conversion model, the status
// says so and there is no probability.
func TestLeadAssessmentCarriesConversion(t *testing.T) {
	e := newFeedbackEnv(t)
	admin := e.as("key-admin")
	if _, err := e.svc.CreateScoringModel(admin, domain.ScoringModel{Name: "default"}); err != nil {
		t.Fatal(err)
	}
	lead, err := e.svc.CreateCustomer(e.ctx, domain.Customer{ExternalID: "l1", Kind: domain.KindLead})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ID: lead.ID})
	if err != nil {
		t.Fatal(err)
	}
	if ca.Conversion == nil || ca.Conversion.Status != domain.LeadNoModel || ca.Conversion.Probability != 0 || ca.Conversion.CustomerID != lead.ID {
		t.Fatalf("conversion = %+v", ca.Conversion)
	}
	// With two scoring models and no policy naming one, which conversion
	// model applies is a question the assessment does not answer: it is
	// still read, without a conversion.
	if _, err := e.svc.CreateScoringModel(admin, domain.ScoringModel{Name: "second"}); err != nil {
		t.Fatal(err)
	}
	ca, err = e.svc.GetCustomerAssessment(e.ctx, domain.CustomerRef{ID: lead.ID})
	if err != nil || ca.Conversion != nil {
		t.Fatalf("with two scoring models: conversion %+v, %v", ca.Conversion, err)
	}
}
