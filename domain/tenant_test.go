package domain

import (
	"errors"
	"testing"
	"time"
)

func TestAPIKeyTextAndMatching(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k, text := NewAPIKey("t1", "ci", RoleIngest, now)
	id, secret, err := ParseAPIKey(text)
	if err != nil || id != k.ID || !k.Matches(secret) || k.Matches(secret+"x") {
		t.Fatalf("key %q: id %q err %v", text, id, err)
	}
	if string(k.SecretHash) == secret {
		t.Fatal("secret stored in clear")
	}
	for _, bad := range []string{"", "pk_", "pk_abc", "sk_abc_def", "pk__x"} {
		if _, _, err := ParseAPIKey(bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("ParseAPIKey(%q) = %v", bad, err)
		}
	}
	k.ExpireTime = now.Add(time.Hour)
	if !k.Active(now) || k.Active(now.Add(time.Hour)) {
		t.Error("expiry not honoured")
	}
	k.RevokeTime = now.Add(time.Minute)
	if k.Active(now.Add(2 * time.Minute)) {
		t.Error("revocation not honoured")
	}
}

func TestCustomerValidate(t *testing.T) {
	t.Parallel()
	good := Customer{Kind: KindLead, Email: "a@b.pl", Country: "PL", Phone: "+48 22 123 45 67", AcceptedChannels: []Channel{ChannelEmail}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(c *Customer){
		"email":                           func(c *Customer) { c.Email = "a@b" },
		"country":                         func(c *Customer) { c.Country = "POL" },
		"phone":                           func(c *Customer) { c.Phone = "call me" },
		"kind":                            func(c *Customer) { c.Kind = "prospect" },
		"external_id":                     func(c *Customer) { c.ExternalID = "has space" },
		"communication.accepted_channels": func(c *Customer) { c.AcceptedChannels = []Channel{"pigeon"} },
		"qualification.budget":            func(c *Customer) { c.Qualification.Budget = -1 },
		"attributes":                      func(c *Customer) { c.Attributes = map[string]AttributeValue{"Bad Key": {Kind: AttrBool}} },
	}
	for field, mutate := range cases {
		c := good
		mutate(&c)
		var ve *ValidationError
		if err := c.Validate(); !errors.As(err, &ve) || ve.Violations[0].Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
}
