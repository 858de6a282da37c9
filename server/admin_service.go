package server

import (
	"context"
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/potentialhq/potential/domain"
	adminv1 "github.com/potentialhq/potential/gen/go/potential/admin/v1"
	"github.com/potentialhq/potential/gen/go/potential/admin/v1/adminv1connect"
)

// AdminServer implements potential.admin.v1.AdminService, for connect-go
// and grpc-go alike. rpcRoles allows it to admins only.
type AdminServer struct {
	adminv1.UnimplementedAdminServiceServer
	svc *domain.Service
}

var (
	_ adminv1connect.AdminServiceHandler = (*AdminServer)(nil)
	_ adminv1.AdminServiceServer         = (*AdminServer)(nil)
)

var roleEnum = map[adminv1.Role]domain.Role{
	adminv1.Role_ROLE_ADMIN:   domain.RoleAdmin,
	adminv1.Role_ROLE_ANALYST: domain.RoleAnalyst,
	adminv1.Role_ROLE_SALES:   domain.RoleSales,
	adminv1.Role_ROLE_INGEST:  domain.RoleIngest,
}

func roleToProto(r domain.Role) adminv1.Role {
	for p, d := range roleEnum {
		if d == r {
			return p
		}
	}
	return adminv1.Role_ROLE_UNSPECIFIED
}

// keyToProto converts a key, leaving out the hash of its secret.
func (s *AdminServer) keyToProto(k domain.APIKey) *adminv1.ApiKey {
	state := map[domain.KeyState]adminv1.ApiKeyState{
		domain.KeyActive:  adminv1.ApiKeyState_API_KEY_STATE_ACTIVE,
		domain.KeyExpired: adminv1.ApiKeyState_API_KEY_STATE_EXPIRED,
		domain.KeyRevoked: adminv1.ApiKeyState_API_KEY_STATE_REVOKED,
	}[k.State(s.svc.Now())]
	return &adminv1.ApiKey{
		Id:          k.ID,
		DisplayName: k.Name,
		Role:        roleToProto(k.Role),
		CreateTime:  fromTime(k.CreateTime),
		ExpireTime:  fromTime(k.ExpireTime),
		RevokeTime:  fromTime(k.RevokeTime),
		State:       state,
	}
}

// CreateApiKey implements AdminService.CreateApiKey.
func (s *AdminServer) CreateApiKey(ctx context.Context, req *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error) {
	k := req.GetApiKey()
	role, ok := roleEnum[k.GetRole()]
	if !ok {
		return nil, domain.Invalid("api_key.role", "unknown role %v", k.GetRole())
	}
	key, text, err := s.svc.CreateKey(ctx, k.GetDisplayName(), role, toTime(k.GetExpireTime()))
	if err != nil {
		return nil, prefixInvalid(err, "api_key")
	}
	return &adminv1.CreateApiKeyResponse{ApiKey: s.keyToProto(key), Key: text}, nil
}

// ListApiKeys implements AdminService.ListApiKeys.
func (s *AdminServer) ListApiKeys(ctx context.Context, req *adminv1.ListApiKeysRequest) (*adminv1.ListApiKeysResponse, error) {
	keys, next, err := s.svc.ListKeys(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &adminv1.ListApiKeysResponse{NextPageToken: next}
	for _, k := range keys {
		out.ApiKeys = append(out.ApiKeys, s.keyToProto(k))
	}
	return out, nil
}

// RevokeApiKey implements AdminService.RevokeApiKey.
func (s *AdminServer) RevokeApiKey(ctx context.Context, req *adminv1.RevokeApiKeyRequest) (*adminv1.ApiKey, error) {
	k, err := s.svc.RevokeKey(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return s.keyToProto(k), nil
}

var actorEnum = map[domain.Actor]adminv1.Actor{
	domain.ActorAPIKey: adminv1.Actor_ACTOR_API_KEY,
	domain.ActorCLI:    adminv1.Actor_ACTOR_CLI,
}

// ListAuditEvents implements AdminService.ListAuditEvents.
func (s *AdminServer) ListAuditEvents(ctx context.Context, req *adminv1.ListAuditEventsRequest) (*adminv1.ListAuditEventsResponse, error) {
	evs, next, err := s.svc.ListAuditEvents(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &adminv1.ListAuditEventsResponse{NextPageToken: next}
	for _, ev := range evs {
		pe := &adminv1.AuditEvent{
			Id:           ev.ID,
			Time:         fromTime(ev.Time),
			Actor:        actorEnum[ev.Actor],
			KeyId:        ev.KeyID,
			Role:         roleToProto(ev.Role),
			Action:       ev.Action,
			ResourceType: ev.ResourceType,
			ResourceId:   ev.ResourceID,
		}
		if pe.Before, err = jsonValue(ev.Before); err != nil {
			return nil, fmt.Errorf("audit event %s: before: %w", ev.ID, err)
		}
		if pe.After, err = jsonValue(ev.After); err != nil {
			return nil, fmt.Errorf("audit event %s: after: %w", ev.ID, err)
		}
		out.AuditEvents = append(out.AuditEvents, pe)
	}
	return out, nil
}

// jsonValue converts a JSON document to a protobuf Value; nil for none.
func jsonValue(doc json.RawMessage) (*structpb.Value, error) {
	if doc == nil {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	return structpb.NewValue(v)
}

// prefixInvalid puts the fields of a validation error under prefix, so
// that they name the request's fields (e.g. api_key.expire_time).
func prefixInvalid(err error, prefix string) error {
	ve, ok := err.(*domain.ValidationError)
	if !ok {
		return err
	}
	out := &domain.ValidationError{}
	for _, v := range ve.Violations {
		v.Field = prefix + "." + v.Field
		out.Violations = append(out.Violations, v)
	}
	return out
}
