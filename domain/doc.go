// Package domain is the business of Potential: the entities a CRM pushes in
// (tenants, customers and leads, transactions, interactions, referrals), the
// rules that keep them consistent, the use cases the API exposes, and the
// storage ports those use cases need.
//
// It imports no transport (gRPC, Connect, protobuf) and no database driver.
// Stores in store/ implement [Store]; servers in server/ translate protobuf
// messages to the types here and map the errors declared in errors.go to
// status codes in one place.
package domain
