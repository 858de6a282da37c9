package server

import (
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/potentialhq/potential/domain"
	customerv1 "github.com/potentialhq/potential/gen/go/potential/customer/v1"
)

// customerSetters copy one client-set field (named by its update_mask path)
// from src to dst.
var customerSetters = map[string]func(dst, src *domain.Customer){
	"external_id":                     func(d, s *domain.Customer) { d.ExternalID = s.ExternalID },
	"kind":                            func(d, s *domain.Customer) { d.Kind = s.Kind },
	"display_name":                    func(d, s *domain.Customer) { d.DisplayName = s.DisplayName },
	"given_name":                      func(d, s *domain.Customer) { d.GivenName = s.GivenName },
	"family_name":                     func(d, s *domain.Customer) { d.FamilyName = s.FamilyName },
	"company_name":                    func(d, s *domain.Customer) { d.CompanyName = s.CompanyName },
	"email":                           func(d, s *domain.Customer) { d.Email = s.Email },
	"phone":                           func(d, s *domain.Customer) { d.Phone = s.Phone },
	"communication":                   func(d, s *domain.Customer) { d.AcceptedChannels = s.AcceptedChannels },
	"communication.accepted_channels": func(d, s *domain.Customer) { d.AcceptedChannels = s.AcceptedChannels },
	"country":                         func(d, s *domain.Customer) { d.Country = s.Country },
	"region":                          func(d, s *domain.Customer) { d.Region = s.Region },
	"city":                            func(d, s *domain.Customer) { d.City = s.City },
	"age_band":                        func(d, s *domain.Customer) { d.AgeBand = s.AgeBand },
	"gender":                          func(d, s *domain.Customer) { d.Gender = s.Gender },
	"industry":                        func(d, s *domain.Customer) { d.Industry = s.Industry },
	"company_size":                    func(d, s *domain.Customer) { d.CompanySize = s.CompanySize },
	"acquisition_channel":             func(d, s *domain.Customer) { d.AcquisitionChannel = s.AcquisitionChannel },
	"attributes":                      func(d, s *domain.Customer) { d.Attributes = s.Attributes },
	"qualification":                   func(d, s *domain.Customer) { d.Qualification = s.Qualification },
	"qualification.budget":            func(d, s *domain.Customer) { d.Qualification.Budget = s.Qualification.Budget },
	"qualification.authority":         func(d, s *domain.Customer) { d.Qualification.Authority = s.Qualification.Authority },
	"qualification.need":              func(d, s *domain.Customer) { d.Qualification.Need = s.Qualification.Need },
	"qualification.decision_time":     func(d, s *domain.Customer) { d.Qualification.DecisionTime = s.Qualification.DecisionTime },
}

// outputOnly are Customer fields a client cannot set; a mask naming them is
// rejected, and an empty mask leaves them out (a customer read and sent back).
var outputOnly = map[string]bool{"id": true, "purchases": true, "engagement": true, "create_time": true, "update_time": true, "etag": true, "grade": true}

// maskPaths resolves an update request's mask: "*" is every client-set
// field; an empty mask is every field populated in the request's customer.
func maskPaths(p *customerv1.Customer, paths []string) ([]string, error) {
	if len(paths) == 0 {
		p.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			if name := string(fd.Name()); !outputOnly[name] {
				paths = append(paths, name)
			}
			return true
		})
		sort.Strings(paths)
		return paths, nil
	}
	if len(paths) == 1 && paths[0] == "*" {
		all := make([]string, 0, len(customerSetters))
		for k := range customerSetters {
			if !strings.Contains(k, ".") {
				all = append(all, k)
			}
		}
		sort.Strings(all)
		return all, nil
	}
	for _, path := range paths {
		if _, ok := customerSetters[path]; ok {
			continue
		}
		if key, ok := strings.CutPrefix(path, "attributes."); ok && key != "" {
			continue
		}
		if outputOnly[path] {
			return nil, domain.Invalid("update_mask", "%q is output only", path)
		}
		return nil, domain.Invalid("update_mask", "unknown field %q", path)
	}
	return paths, nil
}

// applyMask copies the masked fields of src into dst. "attributes.<key>"
// sets one attribute, or removes it when src lacks the key.
func applyMask(dst, src *domain.Customer, paths []string) {
	for _, path := range paths {
		if set, ok := customerSetters[path]; ok {
			set(dst, src)
			continue
		}
		key := strings.TrimPrefix(path, "attributes.")
		if v, ok := src.Attributes[key]; ok {
			if dst.Attributes == nil {
				dst.Attributes = map[string]domain.AttributeValue{}
			}
			dst.Attributes[key] = v
		} else {
			delete(dst.Attributes, key)
		}
	}
}
