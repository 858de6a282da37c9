package rules

import (
	"errors"
	"testing"
)

func TestConversionAndActionVariables(t *testing.T) {
	t.Parallel()
	hot := &Subject{Customer: Customer{Kind: "lead", City: "Kraków"}, CLV: CLV{Predicted: 812.5},
		Conversion: Conversion{Available: true, Probability: 0.62, Band: "hot"}, Action: Action{Name: "sales_call", DueWithinDays: 3}}
	unscored := &Subject{Customer: Customer{Kind: "lead"}}
	for _, tc := range []struct {
		src                 string
		hot, unscored       bool
		usesConv, usesActio bool
	}{
		{`conversion.probability > 0.5`, true, false, true, false},
		{`conversion.band == "hot"`, true, false, true, false},
		{`!conversion.available`, false, true, true, false},
		{`action.name == "sales_call" && action.due_within_days <= 3`, true, false, false, true},
		{`customer.kind == "lead"`, true, true, false, false},
	} {
		r, err := CompileSegmentRule(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		h, err1 := r.Eval(hot)
		u, err2 := r.Eval(unscored)
		if err1 != nil || err2 != nil || h != tc.hot || u != tc.unscored || r.UsesConversion() != tc.usesConv || r.UsesAction() != tc.usesActio {
			t.Errorf("%s: hot %v unscored %v (%v, %v), uses conversion %v action %v; want %v %v %v %v",
				tc.src, h, u, err1, err2, r.UsesConversion(), r.UsesAction(), tc.hot, tc.unscored, tc.usesConv, tc.usesActio)
		}
	}
	// Action conditions see everything but the action itself.
	if _, err := CompileActionCondition(`conversion.band == "hot" && open_complaints == 0`); err != nil {
		t.Errorf("action condition: %v", err)
	}
	var ce *CompileError
	if _, err := CompileActionCondition(`action.name == "x"`); !errors.As(err, &ce) || ce.Line != 1 || ce.Column != 1 {
		t.Errorf("an action condition reading action: %v, want an error at line 1, column 1", err)
	}
	// Fit conditions see the conversion, scoring rule conditions do not.
	c, err := CompileFit(`customer.industry == "retail" && conversion.probability >= 0.5`)
	if err != nil || !c.UsesConversion() {
		t.Fatalf("CompileFit: %v (uses conversion %v)", err, c.UsesConversion())
	}
	for _, tc := range []struct {
		conv Conversion
		want bool
	}{{Conversion{Available: true, Probability: 0.5}, true}, {Conversion{Available: true, Probability: 0.49}, false}, {Conversion{}, false}} {
		if got, err := c.EvalFit(&Event{}, &Customer{Industry: "retail"}, &tc.conv); err != nil || got != tc.want {
			t.Errorf("fit with %+v = %v, %v; want %v", tc.conv, got, err, tc.want)
		}
	}
	if _, err := Compile(`conversion.probability >= 0.5`); err == nil {
		t.Error("a scoring rule condition compiled with conversion")
	}
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	s := &Subject{Customer: Customer{City: "Kraków", Orders: 3}, CLV: CLV{Predicted: 1234.5678, Historical: 1500},
		Churn: Churn{Level: "high"}, PAlive: 0.25, Conversion: Conversion{Available: true, Probability: 0.626}}
	for _, tc := range []struct{ src, want string }{
		{"", ""},
		{"No placeholders", "No placeholders"},
		{"Value {{ clv.predicted }} at {{churn.level}} risk", "Value 1234.57 at high risk"},
		{"{{ customer.orders }} orders, spent {{ clv.historical }}", "3 orders, spent 1500"},
		{"Visit {{ customer.city }}!", "Visit Kraków!"},
		{"p={{ conversion.probability }} alive={{ p_alive < 0.5 }}", "p=0.63 alive=true"},
		{"{{ attributes['missing'] }} stays", "? stays"},
		{"a } b {", "a } b {"},
	} {
		tp, err := CompileTemplate(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if got := tp.Render(s); got != tc.want {
			t.Errorf("%q renders %q, want %q", tc.src, got, tc.want)
		}
	}
	for _, tc := range []struct {
		src       string
		line, col int
	}{
		{"ok {{ rfm.sgment }}", 1, 10},
		{"ok {{ stage", 1, 4},
		{"line one\nthen {{ customer.contry }}", 2, 17},
		{"x {{   }}", 1, 3},
		{"ok {{ 1 +\n \"a\" }}", 1, 9},
	} {
		_, err := CompileTemplate(tc.src)
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Line != tc.line || ce.Column != tc.col {
			t.Errorf("%q: %v; want line %d column %d", tc.src, err, tc.line, tc.col)
		}
	}
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{"Value {{ clv.predicted }}", "{{", "}}{{ stage }}{{", "{{ attributes['x'] }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := CompileTemplate(src)
		if err != nil {
			return
		}
		_ = tp.Render(&Subject{})
	})
}
