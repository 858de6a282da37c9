// Package rules compiles and evaluates the CEL expressions tenants write:
// conditions of scoring rules over an event, its customer and the
// customer's custom attributes (e.g.
// `event.amount > 1000.0 && customer.country == "PL"`) and, later, segment
// rules over a customer and its derived metrics.
//
// Expressions are parsed and type-checked against Go structs (Event,
// Customer) exposed through cel-go's native types, so a misspelt field or a
// comparison of a number with a string is rejected when the rule is saved,
// with its line and column, not when an event arrives. An expression with a
// comprehension has a cost limit, so that none can run away; one without
// is bounded by its length.
package rules

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/ext"
)

// Event is what a scoring rule's condition sees of the event it matches,
// as `event`. Fields that do not apply to the event's kind are zero.
type Event struct {
	// Kind is the event kind, e.g. "order", "email_clicked", "complaint_resolved_unjustified".
	Kind string `cel:"kind"`
	// Amount of an order or refund, in currency units.
	Amount float64 `cel:"amount"`
	// Margin of an order, in currency units; 0 when unknown.
	Margin float64 `cel:"margin"`
	// Quantity of items of an order.
	Quantity int64 `cel:"quantity"`
	// Channel of an interaction or feedback, free-form (e.g. "web").
	Channel string `cel:"channel"`
	// Direction of an interaction: "inbound", "outbound" or "".
	Direction string `cel:"direction"`
	// Rating 1-5 of a rating, or 0-10 of an NPS answer.
	Rating int64 `cel:"rating"`
	// Topic of feedback.
	Topic string `cel:"topic"`
}

// Customer is what a condition sees of the customer, as `customer`.
type Customer struct {
	Kind               string  `cel:"kind"` // "lead" or "customer"
	Country            string  `cel:"country"`
	Region             string  `cel:"region"`
	City               string  `cel:"city"`
	Industry           string  `cel:"industry"`
	CompanySize        string  `cel:"company_size"`
	AgeBand            string  `cel:"age_band"`
	Gender             string  `cel:"gender"`
	AcquisitionChannel string  `cel:"acquisition_channel"`
	Orders             int64   `cel:"orders"`
	PurchaseDays       int64   `cel:"purchase_days"`
	TotalSpend         float64 `cel:"total_spend"`
	// Attributes are the custom attributes, visible to expressions as the
	// map `attributes`: strings, numbers (double), bools and times (as
	// timestamps), e.g. `attributes["vip"] == true`.
	Attributes map[string]any `cel:"-"`
}

// MaxLength bounds an expression's source, in bytes.
const MaxLength = 4096

// costLimit bounds the work of one evaluation (CEL's cost units) of an
// expression with a comprehension (program).
const costLimit = 10_000

// program plans the checked expression ast in e. An expression with a
// comprehension (all, exists, map, filter, …) carries the cost limit; one
// without does not: its work is bounded by its length (MaxLength) and the
// size of its inputs, and the limit's tracker, which observes every step
// of every evaluation, cost as much as the evaluation itself (a rule over
// a million customers: 0.95 s of 2.3 s).
func program(e *cel.Env, ast *cel.Ast) (cel.Program, error) {
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if hasComprehension(ast.NativeRep().Expr()) {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	return e.Program(ast, opts...)
}

// hasComprehension reports whether x contains a comprehension.
func hasComprehension(x celast.Expr) bool {
	found := false
	celast.PreOrderVisit(x, celast.NewExprVisitor(func(e celast.Expr) {
		found = found || e.Kind() == celast.ComprehensionKind
	}))
	return found
}

// CompileError is an expression that does not parse or type-check. Line and
// Column (1-based) point at the first problem.
type CompileError struct {
	Line, Column int
	Message      string
}

func (e *CompileError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

var (
	conditionEnv, fitEnv       *cel.Env
	conditionEnvErr, fitEnvErr error
	conditionEnvOnce           sync.Once
)

func env() (*cel.Env, error) {
	conditionEnvOnce.Do(func() {
		opts := []cel.EnvOption{
			ext.NativeTypes(reflect.TypeFor[Event](), reflect.TypeFor[Customer](), reflect.TypeFor[Conversion](), ext.ParseStructTags(true)),
			cel.Variable("event", cel.ObjectType("rules.Event")),
			cel.Variable("customer", cel.ObjectType("rules.Customer")),
			cel.Variable("attributes", cel.MapType(cel.StringType, cel.DynType)),
			ext.Strings(),
		}
		conditionEnv, conditionEnvErr = cel.NewEnv(opts...)
		if conditionEnvErr == nil {
			fitEnv, fitEnvErr = conditionEnv.Extend(cel.Variable("conversion", cel.ObjectType("rules.Conversion")))
		}
	})
	return conditionEnv, conditionEnvErr
}

// Condition is a compiled boolean expression over `event` and `customer`.
// It is safe for concurrent use.
type Condition struct {
	src  string
	prg  cel.Program
	conv bool
}

// UsesConversion reports whether the condition reads `conversion`.
func (c *Condition) UsesConversion() bool { return c != nil && c.conv }

// Source returns the expression as written.
func (c *Condition) Source() string { return c.src }

// Compile parses and type-checks src, which must be a boolean expression.
// The empty expression is the condition that always holds (nil).
func Compile(src string) (*Condition, error) {
	e, err := env()
	if err != nil {
		return nil, err
	}
	return compileCondition(e, src)
}

// CompileFit compiles the condition of a grading policy's fit criterion:
// what Compile accepts, and `conversion` (see Conversion), the lead's
// predicted conversion.
func CompileFit(src string) (*Condition, error) {
	if _, err := env(); err != nil {
		return nil, err
	}
	if fitEnvErr != nil {
		return nil, fitEnvErr
	}
	return compileCondition(fitEnv, src)
}

func compileCondition(e *cel.Env, src string) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
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
	return &Condition{src: src, prg: prg, conv: readsVariable(ast, "conversion")}, nil
}

// ErrEval reports a condition that failed at run time (e.g. a missing
// attribute, a division by zero, the cost limit).
var ErrEval = errors.New("rules: evaluation failed")

// Eval reports whether the condition holds for ev and cu. A nil condition
// always holds.
func (c *Condition) Eval(ev *Event, cu *Customer) (bool, error) {
	return c.EvalFit(ev, cu, &Conversion{})
}

// EvalFit is Eval for a condition compiled by CompileFit, with the lead's
// conversion conv.
func (c *Condition) EvalFit(ev *Event, cu *Customer, conv *Conversion) (bool, error) {
	if c == nil {
		return true, nil
	}
	attrs := cu.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	out, _, err := c.prg.Eval(map[string]any{"event": ev, "customer": cu, "attributes": attrs, "conversion": conv})
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrEval, err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("%w: result is %T", ErrEval, out.Value())
	}
	return b, nil
}
