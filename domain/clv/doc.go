// Package clv holds the customer-value models of Potential as pure functions of
// numbers: the BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005,
// "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD
// Model", Marketing Science 24(2), 275–284; "FHL 2005" below), the Gamma-Gamma
// model of spend per purchase (Fader & Hardie 2013, "The Gamma-Gamma Model of
// Monetary Value"; Fader, Hardie & Lee 2005, "RFM and CLV: Using Iso-Value
// Curves for Customer Base Analysis", Journal of Marketing Research 42(4)),
// their maximum-likelihood fits, discounted lifetime value and the
// calibration/holdout diagnostics.
//
// The package imports nothing of Potential's; it depends on the standard
// library and gonum only. Every model quantity is expressed in one time unit,
// the unit of the Summary values it was fitted on (weeks in the published CDNOW
// results); functions that need calendar time take the unit explicitly.
//
// Notation follows FHL 2005: for a customer, x is the number of repeat purchase
// days (distinct purchase days minus one), t_x the time from the first to the
// last purchase, and T the time from the first purchase to the end of the
// observation period. The model parameters are r and α (gamma mixing of the
// purchase rate λ) and a and b (beta mixing of the dropout probability p).
//
// Reference values reproduced by the tests (testdata/cdnow): the BG/NBD fit on
// the CDNOW sample, r = 0.2426, α = 4.414, a = 0.793, b = 2.426 with
// log-likelihood −9582.43, and the Gamma-Gamma fit p = 6.25, q = 3.74,
// γ = 15.44.
package clv
