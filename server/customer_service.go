package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	"github.com/potentialhq/potential/gen/go/potential/customer/v1/customerv1connect"
)

// CustomerServer implements potential.customer.v1.CustomerService for both
// grpc-go and connect-go.
type CustomerServer struct {
	customerv1.UnimplementedCustomerServiceServer
	svc *domain.Service
}

var (
	_ customerv1.CustomerServiceServer         = (*CustomerServer)(nil)
	_ customerv1connect.CustomerServiceHandler = (*CustomerServer)(nil)
)

// CreateCustomer implements CustomerService.CreateCustomer.
func (s *CustomerServer) CreateCustomer(ctx context.Context, req *customerv1.CreateCustomerRequest) (*customerv1.Customer, error) {
	c, err := customerFromProto(req.GetCustomer())
	if err != nil {
		return nil, err
	}
	out, err := s.svc.CreateCustomer(ctx, c)
	if err != nil {
		return nil, err
	}
	return customerToProto(&out), nil
}

// GetCustomer implements CustomerService.GetCustomer.
func (s *CustomerServer) GetCustomer(ctx context.Context, req *customerv1.GetCustomerRequest) (*customerv1.Customer, error) {
	out, err := s.svc.GetCustomer(ctx, domain.CustomerRef{ID: req.GetId(), ExternalID: req.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return customerToProto(&out), nil
}

// UpdateCustomer implements CustomerService.UpdateCustomer.
func (s *CustomerServer) UpdateCustomer(ctx context.Context, req *customerv1.UpdateCustomerRequest) (*customerv1.Customer, error) {
	pc := req.GetCustomer()
	if pc.GetId() == "" {
		return nil, domain.Invalid("customer.id", "required: the id of the customer to update")
	}
	paths, err := maskPaths(pc, req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	src, err := customerFromProto(pc)
	if err != nil {
		return nil, err
	}
	out, err := s.svc.UpdateCustomer(ctx, pc.GetId(), pc.GetEtag(), func(dst *domain.Customer) error {
		applyMask(dst, &src, paths)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return customerToProto(&out), nil
}

// DeleteCustomer implements CustomerService.DeleteCustomer.
func (s *CustomerServer) DeleteCustomer(ctx context.Context, req *customerv1.DeleteCustomerRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteCustomer(ctx, req.GetId(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ListCustomers implements CustomerService.ListCustomers.
func (s *CustomerServer) ListCustomers(ctx context.Context, req *customerv1.ListCustomersRequest) (*customerv1.ListCustomersResponse, error) {
	rows, next, err := s.svc.ListCustomers(ctx, domain.ListCustomersRequest{
		Filter:    req.GetFilter(),
		OrderBy:   req.GetOrderBy(),
		PageSize:  int(req.GetPageSize()),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	resp := &customerv1.ListCustomersResponse{NextPageToken: next, Customers: make([]*customerv1.Customer, len(rows))}
	for i := range rows {
		resp.Customers[i] = customerToProto(&rows[i])
	}
	return resp, nil
}

// BatchUpsertCustomers implements CustomerService.BatchUpsertCustomers.
func (s *CustomerServer) BatchUpsertCustomers(ctx context.Context, req *customerv1.BatchUpsertCustomersRequest) (*customerv1.BatchUpsertCustomersResponse, error) {
	cs := make([]domain.Customer, len(req.GetCustomers()))
	for i, pc := range req.GetCustomers() {
		c, err := customerFromProto(pc)
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	outs, err := s.svc.BatchUpsertCustomers(ctx, cs)
	if err != nil {
		return nil, err
	}
	resp := &customerv1.BatchUpsertCustomersResponse{Customers: make([]*customerv1.Customer, len(outs))}
	for i := range outs {
		resp.Customers[i] = customerToProto(&outs[i].Customer)
		switch {
		case outs[i].Created:
			resp.CreatedCount++
		case outs[i].Updated:
			resp.UpdatedCount++
		default:
			resp.UnchangedCount++
		}
	}
	return resp, nil
}

// RecordTransactions implements CustomerService.RecordTransactions.
func (s *CustomerServer) RecordTransactions(ctx context.Context, req *customerv1.RecordTransactionsRequest) (*customerv1.RecordTransactionsResponse, error) {
	txs := make([]domain.Transaction, len(req.GetTransactions()))
	for i, p := range req.GetTransactions() {
		t, err := transactionFromProto(i, p)
		if err != nil {
			return nil, err
		}
		txs[i] = t
	}
	res, err := s.svc.RecordTransactions(ctx, txs, req.GetCreateMissingCustomers())
	if err != nil {
		return nil, err
	}
	return &customerv1.RecordTransactionsResponse{
		CreatedCount:          int32(res.Created),
		AlreadyKnownCount:     int32(res.AlreadyKnown),
		CreatedCustomersCount: int32(res.CreatedCustomers),
	}, nil
}

// RecordInteractions implements CustomerService.RecordInteractions.
func (s *CustomerServer) RecordInteractions(ctx context.Context, req *customerv1.RecordInteractionsRequest) (*customerv1.RecordInteractionsResponse, error) {
	its := make([]domain.Interaction, len(req.GetInteractions()))
	for i, p := range req.GetInteractions() {
		its[i] = interactionFromProto(p)
	}
	res, err := s.svc.RecordInteractions(ctx, its, req.GetCreateMissingCustomers())
	if err != nil {
		return nil, err
	}
	return &customerv1.RecordInteractionsResponse{
		CreatedCount:          int32(res.Created),
		AlreadyKnownCount:     int32(res.AlreadyKnown),
		CreatedCustomersCount: int32(res.CreatedCustomers),
	}, nil
}

// RecordReferrals implements CustomerService.RecordReferrals.
func (s *CustomerServer) RecordReferrals(ctx context.Context, req *customerv1.RecordReferralsRequest) (*customerv1.RecordReferralsResponse, error) {
	rs := make([]domain.Referral, len(req.GetReferrals()))
	for i, p := range req.GetReferrals() {
		rs[i] = referralFromProto(p)
	}
	res, err := s.svc.RecordReferrals(ctx, rs, req.GetCreateMissingCustomers())
	if err != nil {
		return nil, err
	}
	return &customerv1.RecordReferralsResponse{
		CreatedCount:          int32(res.Created),
		AlreadyKnownCount:     int32(res.AlreadyKnown),
		CreatedCustomersCount: int32(res.CreatedCustomers),
	}, nil
}
