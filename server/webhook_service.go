package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/potentialhq/potential/domain"
	webhookv1 "github.com/potentialhq/potential/gen/go/potential/webhook/v1"
	"github.com/potentialhq/potential/gen/go/potential/webhook/v1/webhookv1connect"
)

// WebhookServer implements potential.webhook.v1.WebhookService for
// connect-go and grpc-go.
type WebhookServer struct {
	webhookv1.UnimplementedWebhookServiceServer
	svc *domain.Service
}

var (
	_ webhookv1connect.WebhookServiceHandler = (*WebhookServer)(nil)
	_ webhookv1.WebhookServiceServer         = (*WebhookServer)(nil)
)

// EncodeWebhookEvent is the body of a delivery: the protojson of a
// potential.webhook.v1.WebhookEvent. The webhook worker takes it as its
// WebhookWorkerOptions.Encode.
func EncodeWebhookEvent(ev domain.WebhookEvent) ([]byte, error) {
	m := &webhookv1.WebhookEvent{Id: ev.ID, Type: webhookTypeToProto(ev.Type), Time: fromTime(ev.Time), SubscriptionId: ev.SubscriptionID}
	switch {
	case ev.Segment != nil:
		m.Data = &webhookv1.WebhookEvent_SegmentEvent{SegmentEvent: segmentEventToProto(ev.Segment)}
	case ev.Grade != nil:
		m.Data = &webhookv1.WebhookEvent_GradeChange{GradeChange: gradeChangeToProto(ev.Grade)}
	}
	return protojson.Marshal(m)
}

var webhookTypes = map[domain.WebhookEventType]webhookv1.WebhookEventType{
	domain.WebhookSegmentEntered: webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_ENTERED,
	domain.WebhookSegmentExited:  webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_SEGMENT_EXITED,
	domain.WebhookGradeChanged:   webhookv1.WebhookEventType_WEBHOOK_EVENT_TYPE_GRADE_CHANGED,
}

func webhookTypeToProto(t domain.WebhookEventType) webhookv1.WebhookEventType { return webhookTypes[t] }

func webhookTypeFromProto(t webhookv1.WebhookEventType) domain.WebhookEventType {
	for d, p := range webhookTypes {
		if p == t {
			return d
		}
	}
	return domain.WebhookEventType(t.String())
}

func destinationToProto(d *domain.WebhookDestination) *webhookv1.WebhookDestination {
	return &webhookv1.WebhookDestination{Id: d.ID, Url: d.URL, AllowPrivateNetwork: d.AllowPrivateNetwork, Description: d.Description,
		CreateTime: fromTime(d.CreateTime)}
}

func subscriptionToProto(s *domain.WebhookSubscription) *webhookv1.WebhookSubscription {
	out := &webhookv1.WebhookSubscription{Id: s.ID, Url: s.URL, SegmentIds: slices.Clone(s.SegmentIDs), Description: s.Description,
		Disabled: s.Disabled, Etag: domain.ETag(s.Version), CreateTime: fromTime(s.CreateTime), UpdateTime: fromTime(s.UpdateTime)}
	for _, t := range s.EventTypes {
		out.EventTypes = append(out.EventTypes, webhookTypeToProto(t))
	}
	return out
}

func subscriptionFromProto(p *webhookv1.WebhookSubscription) domain.WebhookSubscription {
	s := domain.WebhookSubscription{URL: p.GetUrl(), SegmentIDs: slices.Clone(p.GetSegmentIds()), Description: p.GetDescription(),
		Disabled: p.GetDisabled()}
	for _, t := range p.GetEventTypes() {
		s.EventTypes = append(s.EventTypes, webhookTypeFromProto(t))
	}
	return s
}

var deliveryStates = map[domain.WebhookDeliveryState]webhookv1.WebhookDeliveryState{
	domain.WebhookPending:   webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_PENDING,
	domain.WebhookSucceeded: webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_SUCCEEDED,
	domain.WebhookFailed:    webhookv1.WebhookDeliveryState_WEBHOOK_DELIVERY_STATE_FAILED,
}

func deliveryToProto(d *domain.WebhookDelivery) *webhookv1.WebhookDelivery {
	out := &webhookv1.WebhookDelivery{Id: d.ID, SubscriptionId: d.SubscriptionID, EventId: d.EventID, EventType: webhookTypeToProto(d.EventType),
		State: deliveryStates[d.State], Payload: string(d.Payload), AttemptCount: int32(d.Attempts), CreateTime: fromTime(d.CreateTime)}
	if d.State == domain.WebhookPending {
		out.NextAttemptTime = fromTime(d.NextAttemptTime)
	}
	for _, a := range d.Log {
		out.Attempts = append(out.Attempts, &webhookv1.WebhookAttempt{Attempt: int32(a.Attempt), StartTime: fromTime(a.Start),
			StatusCode: int32(a.StatusCode), Error: a.Error, Latency: durationpb.New(a.Latency)})
	}
	return out
}

// CreateWebhookDestination implements WebhookService.CreateWebhookDestination.
func (s *WebhookServer) CreateWebhookDestination(ctx context.Context, req *webhookv1.CreateWebhookDestinationRequest) (*webhookv1.WebhookDestination, error) {
	p := req.GetDestination()
	out, err := s.svc.CreateWebhookDestination(ctx, domain.WebhookDestination{URL: p.GetUrl(), AllowPrivateNetwork: p.GetAllowPrivateNetwork(),
		Description: p.GetDescription()})
	if err != nil {
		return nil, err
	}
	return destinationToProto(&out), nil
}

// ListWebhookDestinations implements WebhookService.ListWebhookDestinations.
func (s *WebhookServer) ListWebhookDestinations(ctx context.Context, _ *webhookv1.ListWebhookDestinationsRequest) (*webhookv1.ListWebhookDestinationsResponse, error) {
	ds, err := s.svc.ListWebhookDestinations(ctx)
	if err != nil {
		return nil, err
	}
	resp := &webhookv1.ListWebhookDestinationsResponse{}
	for i := range ds {
		resp.Destinations = append(resp.Destinations, destinationToProto(&ds[i]))
	}
	return resp, nil
}

// DeleteWebhookDestination implements WebhookService.DeleteWebhookDestination.
func (s *WebhookServer) DeleteWebhookDestination(ctx context.Context, req *webhookv1.DeleteWebhookDestinationRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteWebhookDestination(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

func withSecret(sub *domain.WebhookSubscription) *webhookv1.WebhookSubscriptionWithSecret {
	return &webhookv1.WebhookSubscriptionWithSecret{Subscription: subscriptionToProto(sub), Secret: sub.Secret}
}

// CreateWebhookSubscription implements WebhookService.CreateWebhookSubscription.
func (s *WebhookServer) CreateWebhookSubscription(ctx context.Context, req *webhookv1.CreateWebhookSubscriptionRequest) (*webhookv1.WebhookSubscriptionWithSecret, error) {
	out, err := s.svc.CreateWebhookSubscription(ctx, subscriptionFromProto(req.GetSubscription()))
	if err != nil {
		return nil, err
	}
	return withSecret(&out), nil
}

// GetWebhookSubscription implements WebhookService.GetWebhookSubscription.
func (s *WebhookServer) GetWebhookSubscription(ctx context.Context, req *webhookv1.GetWebhookSubscriptionRequest) (*webhookv1.WebhookSubscription, error) {
	out, err := s.svc.GetWebhookSubscription(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return subscriptionToProto(&out), nil
}

// ListWebhookSubscriptions implements WebhookService.ListWebhookSubscriptions.
func (s *WebhookServer) ListWebhookSubscriptions(ctx context.Context, _ *webhookv1.ListWebhookSubscriptionsRequest) (*webhookv1.ListWebhookSubscriptionsResponse, error) {
	subs, err := s.svc.ListWebhookSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	resp := &webhookv1.ListWebhookSubscriptionsResponse{}
	for i := range subs {
		resp.Subscriptions = append(resp.Subscriptions, subscriptionToProto(&subs[i]))
	}
	return resp, nil
}

// UpdateWebhookSubscription implements WebhookService.UpdateWebhookSubscription.
func (s *WebhookServer) UpdateWebhookSubscription(ctx context.Context, req *webhookv1.UpdateWebhookSubscriptionRequest) (*webhookv1.WebhookSubscription, error) {
	p := req.GetSubscription()
	if p.GetId() == "" {
		return nil, domain.Invalid("subscription.id", "required: the id of the subscription to update")
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		for name, set := range map[string]bool{"url": p.GetUrl() != "", "event_types": len(p.GetEventTypes()) > 0,
			"segment_ids": len(p.GetSegmentIds()) > 0, "description": p.GetDescription() != "", "disabled": p.GetDisabled()} {
			if set {
				paths = append(paths, name)
			}
		}
	}
	for _, path := range paths {
		if !slices.Contains([]string{"url", "event_types", "segment_ids", "description", "disabled"}, path) {
			return nil, domain.Invalid("update_mask", "%q cannot be updated: only url, event_types, segment_ids, description and disabled", path)
		}
	}
	src := subscriptionFromProto(p)
	out, err := s.svc.UpdateWebhookSubscription(ctx, p.GetId(), p.GetEtag(), func(sub *domain.WebhookSubscription) error {
		for _, path := range paths {
			switch path {
			case "url":
				sub.URL = src.URL
			case "event_types":
				sub.EventTypes = src.EventTypes
			case "segment_ids":
				sub.SegmentIDs = src.SegmentIDs
			case "description":
				sub.Description = src.Description
			case "disabled":
				sub.Disabled = src.Disabled
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return subscriptionToProto(&out), nil
}

// RotateWebhookSecret implements WebhookService.RotateWebhookSecret.
func (s *WebhookServer) RotateWebhookSecret(ctx context.Context, req *webhookv1.RotateWebhookSecretRequest) (*webhookv1.WebhookSubscriptionWithSecret, error) {
	out, err := s.svc.RotateWebhookSecret(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return withSecret(&out), nil
}

// DeleteWebhookSubscription implements WebhookService.DeleteWebhookSubscription.
func (s *WebhookServer) DeleteWebhookSubscription(ctx context.Context, req *webhookv1.DeleteWebhookSubscriptionRequest) (*emptypb.Empty, error) {
	if err := s.svc.DeleteWebhookSubscription(ctx, req.GetId(), req.GetEtag()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ListWebhookDeliveries implements WebhookService.ListWebhookDeliveries.
func (s *WebhookServer) ListWebhookDeliveries(ctx context.Context, req *webhookv1.ListWebhookDeliveriesRequest) (*webhookv1.ListWebhookDeliveriesResponse, error) {
	ds, next, err := s.svc.ListWebhookDeliveries(ctx, domain.ListWebhookDeliveriesRequest{SubscriptionID: req.GetSubscriptionId(),
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, err
	}
	resp := &webhookv1.ListWebhookDeliveriesResponse{NextPageToken: next}
	for i := range ds {
		resp.Deliveries = append(resp.Deliveries, deliveryToProto(&ds[i]))
	}
	return resp, nil
}
