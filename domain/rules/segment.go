package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// RFM is what a segment rule sees of the customer's RFM scores, as `rfm`:
// each score 1-5 against the tenant's quintiles (0 without purchases or
// before the first value model fit), and the named segment (e.g.
// "champions", "at_risk"; "unknown" without scores).
type RFM struct {
	RecencyScore   int64  `cel:"recency_score"`
	FrequencyScore int64  `cel:"frequency_score"`
	MonetaryScore  int64  `cel:"monetary_score"`
	Segment        string `cel:"segment"`
}

// CLV is what a segment rule sees of the customer's value, as `clv`, in
// currency units: the predicted (discounted margin over the model's
// horizon), the historical (net spend so far) and the value at risk.
type CLV struct {
	Predicted         float64 `cel:"predicted"`
	Historical        float64 `cel:"historical"`
	ValueAtRisk       float64 `cel:"value_at_risk"`
	ExpectedPurchases float64 `cel:"expected_purchases"`
}

// Churn is the customer's churn warning, as `churn`: level "none", "low",
// "medium" or "high", and the reasons (e.g. "open_complaint").
type Churn struct {
	Level   string   `cel:"level"`
	Reasons []string `cel:"reasons"`
}

// Interactions counts the customer's interactions in the windows ending
// now, as `interactions`; DaysSinceLast is the whole days since the latest
// interaction (-1 without any).
type Interactions struct {
	Last7Days     int64 `cel:"last_7_days"`
	Last30Days    int64 `cel:"last_30_days"`
	Last90Days    int64 `cel:"last_90_days"`
	DaysSinceLast int64 `cel:"days_since_last"`
}

// Conversion is a lead's predicted conversion, as `conversion`: its
// stored probability (0-1) and band ("hot", "warm" or "cold") from the
// tenant's conversion model. Available is false, Probability 0 and Band ""
// when the customer has none: not an open lead, or no model in use (too
// little data to learn from, or never trained). Test it before the
// probability when an unscored lead must not count as 0, e.g.
// `conversion.available && conversion.probability < 0.1`.
type Conversion struct {
	Available   bool    `cel:"available"`
	Probability float64 `cel:"probability"`
	Band        string  `cel:"band"`
}

// Action is the customer's next best action, as `action` (segment rules
// only): the name of the first rule of the tenant's action table that
// holds ("none" when none does), and the days within which to act (0: no
// deadline). Its reason, text for people, is not a variable.
type Action struct {
	Name          string `cel:"name"`
	DueWithinDays int64  `cel:"due_within_days"`
}

// Subject is everything a segment rule sees of one customer at one time.
type Subject struct {
	Customer Customer
	RFM      RFM
	CLV      CLV
	PAlive   float64 // `p_alive`, 0-1
	Churn    Churn
	Stage    string  // `stage`: "lead", "new", "active", "at_risk", "churned", "reactivated" or "unknown"
	Grade    string  // `grade`: the customer's grade, "" if none
	Score    float64 // `score`: the grade's composite score, 0-100
	// Engagement is the grade's engagement sub-score, 0-100, as `engagement`.
	Engagement   float64
	Interactions Interactions
	// DaysSinceLastPurchase is whole days since the latest order (-1
	// without any), as `days_since_last_purchase`.
	DaysSinceLastPurchase int64
	OpenComplaints        int64 // `open_complaints`
	Conversion            Conversion
	// Action is the next best action; action conditions cannot see it.
	Action Action
}

// Time-dependent variables of segment rules: their values change as time
// passes without any event. SegmentRule.TimeDependent reports whether a
// rule reads any of them.
var timeDependent = []string{"interactions", "days_since_last_purchase"}

// segmentVariables are the variables of segment rules (segEnv).
var segmentVariables = []string{"customer", "attributes", "rfm", "clv", "churn", "interactions", "p_alive", "stage",
	"grade", "score", "engagement", "days_since_last_purchase", "open_complaints", "conversion", "action"}

var (
	segmentEnv, actionEnv       *cel.Env
	segmentEnvErr, actionEnvErr error
	segmentEnvOnce              sync.Once
)

// newSubjectEnv declares the variables of a Subject; withAction adds
// `action`, which segment rules see and action conditions do not.
func newSubjectEnv(withAction bool) (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.NativeTypes(reflect.TypeFor[Customer](), reflect.TypeFor[RFM](), reflect.TypeFor[CLV](),
			reflect.TypeFor[Churn](), reflect.TypeFor[Interactions](), reflect.TypeFor[Conversion](),
			reflect.TypeFor[Action](), ext.ParseStructTags(true)),
		cel.Variable("customer", cel.ObjectType("rules.Customer")),
		cel.Variable("attributes", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("rfm", cel.ObjectType("rules.RFM")),
		cel.Variable("clv", cel.ObjectType("rules.CLV")),
		cel.Variable("churn", cel.ObjectType("rules.Churn")),
		cel.Variable("interactions", cel.ObjectType("rules.Interactions")),
		cel.Variable("conversion", cel.ObjectType("rules.Conversion")),
		cel.Variable("p_alive", cel.DoubleType),
		cel.Variable("stage", cel.StringType),
		cel.Variable("grade", cel.StringType),
		cel.Variable("score", cel.DoubleType),
		cel.Variable("engagement", cel.DoubleType),
		cel.Variable("days_since_last_purchase", cel.IntType),
		cel.Variable("open_complaints", cel.IntType),
		ext.Strings(),
	}
	if withAction {
		opts = append(opts, cel.Variable("action", cel.ObjectType("rules.Action")))
	}
	return cel.NewEnv(opts...)
}

func segEnv() (*cel.Env, error) {
	segmentEnvOnce.Do(func() {
		segmentEnv, segmentEnvErr = newSubjectEnv(true)
		actionEnv, actionEnvErr = newSubjectEnv(false)
	})
	return segmentEnv, segmentEnvErr
}

func actEnv() (*cel.Env, error) {
	if _, err := segEnv(); err != nil {
		return nil, err
	}
	return actionEnv, actionEnvErr
}

// SegmentRule is a compiled boolean segment rule. It is safe for
// concurrent use.
type SegmentRule struct {
	src    string
	prg    cel.Program
	time   bool
	action bool
	conv   bool
	vars   []string
	// fields are the fields of `customer` the rule selects; whole is set
	// when it uses `customer` otherwise (e.g. compares it).
	fields []string
	whole  bool
	// settle, when set, is the rule's parts that read neither a
	// time-dependent variable nor `action`: the conjunction of its
	// top-level conjuncts (or the disjunction of its top-level disjuncts,
	// when settleOn is true) of that kind.
	settle   cel.Program
	settleOn bool
}

// CompileSegmentRule parses and type-checks src, a boolean expression over
// customer, attributes, rfm, clv, p_alive, churn, stage, grade, score,
// engagement, interactions, days_since_last_purchase, open_complaints,
// conversion and action
// (e.g. `customer.country == "PL" && rfm.recency_score <= 2 && clv.predicted > 500.0`).
// Errors are *CompileError with the line and column of the first problem.
func CompileSegmentRule(src string) (*SegmentRule, error) {
	e, err := segEnv()
	if err != nil {
		return nil, err
	}
	return compileSubjectRule(e, src)
}

// CompileActionCondition compiles the condition of a next-best-action
// rule: a boolean expression over what a segment rule sees, but `action`.
func CompileActionCondition(src string) (*SegmentRule, error) {
	e, err := actEnv()
	if err != nil {
		return nil, err
	}
	return compileSubjectRule(e, src)
}

func compileSubjectRule(e *cel.Env, src string) (*SegmentRule, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Message: "the rule is empty"}
	}
	if len(src) > MaxLength {
		return nil, &CompileError{Message: fmt.Sprintf("expression longer than %d bytes", MaxLength)}
	}
	ast, err := compileChecked(e, src)
	if err != nil {
		return nil, err
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, &CompileError{Line: 1, Column: 1, Message: fmt.Sprintf("the expression is a %s, not a bool", ast.OutputType())}
	}
	prg, err := program(e, ast)
	if err != nil {
		return nil, &CompileError{Message: err.Error()}
	}
	r := &SegmentRule{src: src, prg: prg}
	r.analyze(ast)
	if r.time || r.action {
		// A part that does not compile on its own settles nothing.
		_ = r.compileSettle(e, ast)
	}
	return r, nil
}

// compileSettle compiles the parts of a rule that can settle its result
// whatever time brings (SegmentRule.Settled): of a rule `a && b && …`, the
// conjuncts that read no time-dependent variable and not `action` (one of
// them false makes the rule false); of `a || b || …`, the disjuncts of that
// kind (one of them true makes it true). Other rules have none.
func (r *SegmentRule) compileSettle(e *cel.Env, ast *cel.Ast) error {
	root := ast.NativeRep().Expr()
	op := ""
	if root.Kind() == celast.CallKind {
		op = root.AsCall().FunctionName()
	}
	if op != operators.LogicalAnd && op != operators.LogicalOr {
		return nil
	}
	var parts []celast.Expr
	var flatten func(x celast.Expr)
	flatten = func(x celast.Expr) {
		if x.Kind() == celast.CallKind && x.AsCall().FunctionName() == op {
			for _, a := range x.AsCall().Args() {
				flatten(a)
			}
			return
		}
		parts = append(parts, x)
	}
	flatten(root)
	var src []string
	for _, x := range parts {
		if readsTime(x) {
			continue
		}
		text, err := parser.Unparse(x, ast.NativeRep().SourceInfo())
		if err != nil {
			return err
		}
		src = append(src, "("+text+")")
	}
	if len(src) == 0 {
		return nil
	}
	join := " && "
	if op == operators.LogicalOr {
		join = " || "
	}
	checked, iss := e.Compile(strings.Join(src, join))
	if iss != nil && iss.Err() != nil {
		return iss.Err()
	}
	prg, err := program(e, checked)
	if err != nil {
		return err
	}
	r.settle, r.settleOn = prg, op == operators.LogicalOr
	return nil
}

// readsTime reports whether x names a time-dependent variable or `action`
// (a comprehension's variable of the same name counts too).
func readsTime(x celast.Expr) bool {
	found := false
	celast.PreOrderVisit(x, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.IdentKind && (slices.Contains(timeDependent, e.AsIdent()) || e.AsIdent() == "action") {
			found = true
		}
	}))
	return found
}

// Settled reports whether the rule's result for s stays what it is as
// time passes, whatever its time-dependent variables and `action` become:
// a rule `customer.country == "PL" && interactions.last_30_days == 0` is
// settled (false) for a customer outside Poland. A rule that reads
// neither is always settled; an evaluation error of the settling parts
// settles nothing.
//
// held is the rule's result for s (false when it failed): a conjunction
// that holds, or a disjunction that does not, is not settled, without
// evaluating its parts again.
func (r *SegmentRule) Settled(s *Subject, held bool) bool {
	if !r.time && !r.action {
		return true
	}
	if r.settle == nil || held != r.settleOn {
		return false
	}
	b, err := evalBool(r.settle, s)
	return err == nil && b == r.settleOn
}

// compileChecked parses and type-checks src in e.
func compileChecked(e *cel.Env, src string) (*cel.Ast, error) {
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, &CompileError{Message: iss.Err().Error()}
		}
		loc := errs[0].Location
		return nil, &CompileError{Line: loc.Line(), Column: loc.Column() + 1, Message: errs[0].Message}
	}
	return ast, nil
}

// readsVariable reports whether the checked ast reads the variable name.
func readsVariable(ast *cel.Ast, name string) bool {
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == name {
			return true
		}
	}
	return false
}

// analyze records what the checked ast reads: its variables, whether one
// of them changes as time passes, whether it reads `action` or
// `conversion`, and which fields of `customer` it selects.
func (r *SegmentRule) analyze(ast *cel.Ast) {
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if !slices.Contains(segmentVariables, ref.Name) || slices.Contains(r.vars, ref.Name) {
			continue // a function, a comprehension's own variable, or seen already
		}
		r.vars = append(r.vars, ref.Name)
		if slices.Contains(timeDependent, ref.Name) {
			r.time = true
		}
		switch ref.Name {
		case "action":
			r.action = true
		case "conversion":
			r.conv = true
		}
	}
	slices.Sort(r.vars)
	// Which fields of customer: a selection customer.f is visited before
	// its operand, which it marks.
	selected := map[int64]bool{}
	celast.PreOrderVisit(ast.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.SelectKind:
			op := e.AsSelect().Operand()
			if op.Kind() == celast.IdentKind && op.AsIdent() == "customer" {
				selected[op.ID()] = true
				if f := e.AsSelect().FieldName(); !slices.Contains(r.fields, f) {
					r.fields = append(r.fields, f)
				}
			}
		case celast.IdentKind:
			if e.AsIdent() == "customer" && !selected[e.ID()] {
				r.whole = true
			}
		}
	}))
	slices.Sort(r.fields)
}

// CustomerFields returns the fields of `customer` the rule reads, by
// their CEL names (e.g. "country"), sorted; whole is true when it reads
// the variable otherwise than by selecting fields, and so reads them all.
func (r *SegmentRule) CustomerFields() (fields []string, whole bool) {
	return slices.Clone(r.fields), r.whole
}

// Variables returns the names of the variables the rule reads (e.g.
// "customer", "interactions"), sorted: what a store must read of each
// customer to evaluate it, taken from the checked expression's references.
func (r *SegmentRule) Variables() []string { return slices.Clone(r.vars) }

// Source returns the rule as written.
func (r *SegmentRule) Source() string { return r.src }

// TimeDependent reports whether the rule reads a variable whose value
// changes as time passes (interactions, days_since_last_purchase).
func (r *SegmentRule) TimeDependent() bool { return r.time }

// UsesAction reports whether the rule reads `action`.
func (r *SegmentRule) UsesAction() bool { return r.action }

// UsesConversion reports whether the rule reads `conversion`.
func (r *SegmentRule) UsesConversion() bool { return r.conv }

// Eval reports whether the rule holds for s.
func (r *SegmentRule) Eval(s *Subject) (bool, error) { return evalBool(r.prg, s) }

// evalBool evaluates the boolean program prg on s.
func evalBool(prg cel.Program, s *Subject) (bool, error) {
	out, _, err := prg.Eval(s.bind())
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrEval, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%w: result is %T", ErrEval, out.Value())
	}
	return b, nil
}

// bind returns the activation of s, with an empty map of attributes and
// list of churn reasons where it has none.
func (s *Subject) bind() interpreter.Activation {
	attrs := s.Customer.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	if s.Churn.Reasons == nil {
		s.Churn.Reasons = []string{}
	}
	return s.activation(attrs)
}

// activation binds the variables of s. It resolves each name as the
// program reads it: a map of every variable, built for each evaluation,
// was half of the cost of evaluating a rule over a whole tenant.
func (s *Subject) activation(attrs map[string]any) interpreter.Activation {
	return &subjectActivation{s: s, attrs: attrs}
}

// subjectActivation is the activation of a Subject (segmentVariables).
type subjectActivation struct {
	s     *Subject
	attrs map[string]any
}

func (a *subjectActivation) ResolveName(name string) (any, bool) {
	s := a.s
	switch name {
	case "customer":
		return &s.Customer, true
	case "attributes":
		return a.attrs, true
	case "rfm":
		return &s.RFM, true
	case "clv":
		return &s.CLV, true
	case "churn":
		return &s.Churn, true
	case "interactions":
		return &s.Interactions, true
	case "p_alive":
		return s.PAlive, true
	case "stage":
		return s.Stage, true
	case "grade":
		return s.Grade, true
	case "score":
		return s.Score, true
	case "engagement":
		return s.Engagement, true
	case "days_since_last_purchase":
		return s.DaysSinceLastPurchase, true
	case "open_complaints":
		return s.OpenComplaints, true
	case "conversion":
		return &s.Conversion, true
	case "action":
		return &s.Action, true
	}
	return nil, false
}

func (a *subjectActivation) Parent() interpreter.Activation { return nil }
