package server

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
	segmentv1 "github.com/potentialhq/potential/gen/go/potential/segment/v1"
	"github.com/potentialhq/potential/gen/go/potential/segment/v1/segmentv1connect"
)

// SegmentServer implements potential.segment.v1.SegmentService for
// connect-go; segmentGRPC adapts its one streaming method to grpc-go.
type SegmentServer struct {
	svc *domain.Service
}

var _ segmentv1connect.SegmentServiceHandler = (*SegmentServer)(nil)

// CreateSegment implements SegmentService.CreateSegment.
func (s *SegmentServer) CreateSegment(ctx context.Context, req *segmentv1.CreateSegmentRequest) (*segmentv1.Segment, error) {
	members := make([]domain.CustomerRef, len(req.GetMembers()))
	for i, r := range req.GetMembers() {
		members[i] = refFromProto(r)
	}
	out, err := s.svc.CreateSegment(ctx, segmentFromProto(req.GetSegment()), members)
	if err != nil {
		return nil, err
	}
	return crmSegmentToProto(&out), nil
}

// GetSegment implements SegmentService.GetSegment.
func (s *SegmentServer) GetSegment(ctx context.Context, req *segmentv1.GetSegmentRequest) (*segmentv1.Segment, error) {
	out, err := s.svc.GetSegment(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return crmSegmentToProto(&out), nil
}

// ListSegments implements SegmentService.ListSegments.
func (s *SegmentServer) ListSegments(ctx context.Context, _ *segmentv1.ListSegmentsRequest) (*segmentv1.ListSegmentsResponse, error) {
	sgs, err := s.svc.ListSegments(ctx)
	if err != nil {
		return nil, err
	}
	resp := &segmentv1.ListSegmentsResponse{}
	for i := range sgs {
		resp.Segments = append(resp.Segments, crmSegmentToProto(&sgs[i]))
	}
	return resp, nil
}

// UpdateSegment implements SegmentService.UpdateSegment.
func (s *SegmentServer) UpdateSegment(ctx context.Context, req *segmentv1.UpdateSegmentRequest) (*segmentv1.Segment, error) {
	p := req.GetSegment()
	if p.GetId() == "" {
		return nil, domain.Invalid("segment.id", "required: the id of the segment to update")
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		for name, set := range map[string]bool{"name": p.GetName() != "", "description": p.GetDescription() != "", "rule": p.GetRule() != ""} {
			if set {
				paths = append(paths, name)
			}
		}
	}
	for _, path := range paths {
		if path != "name" && path != "description" && path != "rule" {
			return nil, domain.Invalid("update_mask", "%q cannot be updated: only name, description and rule", path)
		}
	}
	src := segmentFromProto(p)
	out, err := s.svc.UpdateSegment(ctx, p.GetId(), p.GetEtag(), func(sg *domain.Segment) error {
		for _, path := range paths {
			switch path {
			case "name":
				sg.Name = src.Name
			case "description":
				sg.Description = src.Description
			case "rule":
				sg.Rule = src.Rule
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return crmSegmentToProto(&out), nil
}

// DeleteSegment implements SegmentService.DeleteSegment.
func (s *SegmentServer) DeleteSegment(ctx context.Context, req *segmentv1.DeleteSegmentRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteSegment(ctx, req.GetId(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func refsFromProto(rs []*customerv1.CustomerRef) []domain.CustomerRef {
	out := make([]domain.CustomerRef, len(rs))
	for i, r := range rs {
		out[i] = refFromProto(r)
	}
	return out
}

// AddSegmentMembers implements SegmentService.AddSegmentMembers.
func (s *SegmentServer) AddSegmentMembers(ctx context.Context, req *segmentv1.AddSegmentMembersRequest) (*segmentv1.ChangeSegmentMembersResponse, error) {
	n, err := s.svc.ChangeSegmentMembers(ctx, req.GetSegmentId(), refsFromProto(req.GetCustomers()), nil)
	if err != nil {
		return nil, renameField(err, "add", "customers")
	}
	return &segmentv1.ChangeSegmentMembersResponse{Changed: int32(n)}, nil
}

// RemoveSegmentMembers implements SegmentService.RemoveSegmentMembers.
func (s *SegmentServer) RemoveSegmentMembers(ctx context.Context, req *segmentv1.RemoveSegmentMembersRequest) (*segmentv1.ChangeSegmentMembersResponse, error) {
	n, err := s.svc.ChangeSegmentMembers(ctx, req.GetSegmentId(), nil, refsFromProto(req.GetCustomers()))
	if err != nil {
		return nil, renameField(err, "remove", "customers")
	}
	return &segmentv1.ChangeSegmentMembersResponse{Changed: int32(n)}, nil
}

// PreviewSegment implements SegmentService.PreviewSegment.
func (s *SegmentServer) PreviewSegment(ctx context.Context, req *segmentv1.PreviewSegmentRequest) (*segmentv1.PreviewSegmentResponse, error) {
	pv, err := s.svc.PreviewSegment(ctx, req.GetRule(), int(req.GetSampleSize()))
	if err != nil {
		return nil, renameField(err, "segment.rule", "rule")
	}
	resp := &segmentv1.PreviewSegmentResponse{Count: pv.Count}
	for i := range pv.Sample {
		resp.Sample = append(resp.Sample, customerToProto(&pv.Sample[i]))
	}
	return resp, nil
}

// ListSegmentMembers implements SegmentService.ListSegmentMembers.
func (s *SegmentServer) ListSegmentMembers(ctx context.Context, req *segmentv1.ListSegmentMembersRequest) (*segmentv1.ListSegmentMembersResponse, error) {
	ms, next, err := s.svc.ListSegmentMembers(ctx, req.GetSegmentId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &segmentv1.ListSegmentMembersResponse{NextPageToken: next}
	for _, m := range ms {
		resp.Members = append(resp.Members, &segmentv1.SegmentMember{CustomerId: m.CustomerID, Since: fromTime(m.Since)})
	}
	return resp, nil
}

// ListCustomerSegments implements SegmentService.ListCustomerSegments.
func (s *SegmentServer) ListCustomerSegments(ctx context.Context, req *segmentv1.ListCustomerSegmentsRequest) (*segmentv1.ListCustomerSegmentsResponse, error) {
	ids, err := s.svc.CustomerSegments(ctx, refFromProto(req.GetCustomer()))
	if err != nil {
		return nil, err
	}
	return &segmentv1.ListCustomerSegmentsResponse{SegmentIds: ids}, nil
}

// ListSegmentEvents implements SegmentService.ListSegmentEvents.
func (s *SegmentServer) ListSegmentEvents(ctx context.Context, req *segmentv1.ListSegmentEventsRequest) (*segmentv1.ListSegmentEventsResponse, error) {
	r := domain.ListSegmentEventsRequest{SegmentIDs: req.GetSegmentIds(), AfterCursor: req.GetAfterCursor(), PageSize: int(req.GetPageSize())}
	if req.GetCustomer() != nil {
		r.Customer = refFromProto(req.GetCustomer())
	}
	evs, next, err := s.svc.ListSegmentEvents(ctx, r)
	if err != nil {
		return nil, err
	}
	resp := &segmentv1.ListSegmentEventsResponse{NextCursor: next}
	for i := range evs {
		resp.Events = append(resp.Events, segmentEventToProto(&evs[i]))
	}
	return resp, nil
}

// WatchSegmentEvents implements SegmentService.WatchSegmentEvents for
// connect-go.
func (s *SegmentServer) WatchSegmentEvents(ctx context.Context, req *segmentv1.WatchSegmentEventsRequest, stream *connect.ServerStream[segmentv1.WatchSegmentEventsResponse]) error {
	// Send the response headers now: a client waits for them before it
	// reads, and the first event may be long in coming.
	if err := stream.Send(nil); err != nil {
		return err
	}
	return s.watch(ctx, req, stream.Send)
}

// watch sends every event of the watch, one message each.
func (s *SegmentServer) watch(ctx context.Context, req *segmentv1.WatchSegmentEventsRequest, send func(*segmentv1.WatchSegmentEventsResponse) error) error {
	return s.svc.WatchSegmentEvents(ctx, req.GetSegmentIds(), req.GetAfterCursor(), func(evs []domain.SegmentEvent) error {
		for i := range evs {
			if err := send(&segmentv1.WatchSegmentEventsResponse{Event: segmentEventToProto(&evs[i])}); err != nil {
				return err
			}
		}
		return nil
	})
}

// grpcSegmentBase puts grpc-go's Unimplemented methods one level below
// SegmentServer's, so that segmentGRPC's unary methods are SegmentServer's
// without restating each.
type grpcSegmentBase struct {
	segmentv1.UnimplementedSegmentServiceServer
}

// segmentGRPC serves SegmentService on grpc-go.
type segmentGRPC struct {
	grpcSegmentBase
	*SegmentServer
}

var _ segmentv1.SegmentServiceServer = segmentGRPC{}

// WatchSegmentEvents implements SegmentService.WatchSegmentEvents for grpc-go.
func (g segmentGRPC) WatchSegmentEvents(req *segmentv1.WatchSegmentEventsRequest, stream grpc.ServerStreamingServer[segmentv1.WatchSegmentEventsResponse]) error {
	return g.watch(stream.Context(), req, stream.Send)
}

func crmSegmentToProto(sg *domain.Segment) *segmentv1.Segment {
	kind := segmentv1.SegmentKind_SEGMENT_KIND_STATIC
	if sg.Kind == domain.SegmentDynamic {
		kind = segmentv1.SegmentKind_SEGMENT_KIND_DYNAMIC
	}
	return &segmentv1.Segment{
		Id: sg.ID, Name: sg.Name, Description: sg.Description, Kind: kind, Rule: sg.Rule, BuiltIn: sg.BuiltIn,
		Etag: domain.ETag(sg.Version), CreateTime: fromTime(sg.CreateTime), UpdateTime: fromTime(sg.UpdateTime),
	}
}

func segmentFromProto(p *segmentv1.Segment) domain.Segment {
	sg := domain.Segment{Name: p.GetName(), Description: p.GetDescription(), Rule: p.GetRule()}
	switch p.GetKind() {
	case segmentv1.SegmentKind_SEGMENT_KIND_STATIC:
		sg.Kind = domain.SegmentStatic
	case segmentv1.SegmentKind_SEGMENT_KIND_DYNAMIC:
		sg.Kind = domain.SegmentDynamic
	}
	return sg
}

func segmentEventToProto(ev *domain.SegmentEvent) *segmentv1.SegmentEvent {
	kind := segmentv1.SegmentEventKind_SEGMENT_EVENT_KIND_ENTERED
	if ev.Kind == domain.SegmentExited {
		kind = segmentv1.SegmentEventKind_SEGMENT_EVENT_KIND_EXITED
	}
	return &segmentv1.SegmentEvent{Cursor: ev.Cursor, SegmentId: ev.SegmentID, CustomerId: ev.CustomerID, Kind: kind,
		Time: fromTime(ev.Time), Cause: ev.Cause}
}

// renameField rewrites the fields of a validation error that start with
// from (the domain's name) to start with to (the request's).
func renameField(err error, from, to string) error {
	var ve *domain.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	out := &domain.ValidationError{Violations: make([]domain.FieldViolation, len(ve.Violations))}
	for i, v := range ve.Violations {
		if rest, ok := strings.CutPrefix(v.Field, from); ok {
			v.Field = to + rest
		}
		out.Violations[i] = v
	}
	return out
}
