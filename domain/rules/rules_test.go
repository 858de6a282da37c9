package rules

import (
	"errors"
	"testing"
)

func TestCompileAndEval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src  string
		ev   Event
		cu   Customer
		want bool
	}{
		{`event.amount > 1000.0 && customer.country == "PL"`, Event{Amount: 1500}, Customer{Country: "PL"}, true},
		{`event.amount > 1000.0 && customer.country == "PL"`, Event{Amount: 500}, Customer{Country: "PL"}, false},
		{`event.amount > 1000.0 && customer.country == "PL"`, Event{Amount: 1500}, Customer{Country: "DE"}, false},
		{`event.kind == "email_clicked" || event.channel.startsWith("web")`, Event{Kind: "x", Channel: "webinar"}, Customer{}, true},
		{`attributes["vip"] == true`, Event{}, Customer{Attributes: map[string]any{"vip": true}}, true},
		{`"vip" in attributes && attributes["vip"] == true`, Event{}, Customer{}, false},
		{`event.quantity >= 3 && customer.orders < 10`, Event{Quantity: 3}, Customer{Orders: 2}, true},
		{``, Event{}, Customer{}, true},
	}
	for _, c := range cases {
		cond, err := Compile(c.src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.src, err)
		}
		got, err := cond.Eval(&c.ev, &c.cu)
		if err != nil || got != c.want {
			t.Errorf("%q on %+v %+v = %v, %v; want %v", c.src, c.ev, c.cu, got, err, c.want)
		}
	}
}

func TestCompileErrorsPointAtTheProblem(t *testing.T) {
	t.Parallel()
	cases := []struct {
		src       string
		line, col int
	}{
		{`event.amount > `, 1, 16},
		{`event.amout > 1.0`, 1, 6},
		{`event.amount > "1000"`, 1, 14},
		{"event.amount > 1.0 &&\n  customer.contry == \"PL\"", 2, 11},
		{`event.amount`, 1, 1},
		{`nosuch > 1`, 1, 1},
	}
	for _, c := range cases {
		_, err := Compile(c.src)
		var ce *CompileError
		if !errors.As(err, &ce) {
			t.Errorf("Compile(%q) = %v, want a CompileError", c.src, err)
			continue
		}
		if ce.Line != c.line || ce.Column != c.col {
			t.Errorf("Compile(%q): line %d column %d (%s), want %d:%d", c.src, ce.Line, ce.Column, ce.Message, c.line, c.col)
		}
	}
}

func TestEvalErrorIsReported(t *testing.T) {
	t.Parallel()
	cond, err := Compile(`attributes["tier"] == "gold"`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cond.Eval(&Event{}, &Customer{}); !errors.Is(err, ErrEval) {
		t.Fatalf("missing attribute: %v", err)
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{`event.amount > 1000.0 && customer.country == "PL"`, `(`, `event.kind.matches("^e")`, `attributes["x"] > 1.0`, `[1,2,3].all(x, x > 0)`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cond, err := Compile(src)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a CompileError: %v", err)
			}
			return
		}
		_, _ = cond.Eval(&Event{Amount: 1}, &Customer{Attributes: map[string]any{"x": 2.0}})
	})
}
