package rules

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
)

// Template is a compiled reason template: text with placeholders
// `{{ expression }}`, each a CEL expression over what an action condition
// sees (e.g. `Predicted value {{ clv.predicted }} at risk ({{ churn.level }})`),
// replaced by its value when rendered. It is safe for concurrent use.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	text string
	prg  cel.Program // nil for text
}

// MaxTemplateLength bounds a template's source, in bytes.
const MaxTemplateLength = 1024

// CompileTemplate parses src and type-checks its placeholders. Errors are
// *CompileError with the line and column, in src, of the first problem.
func CompileTemplate(src string) (*Template, error) {
	if len(src) > MaxTemplateLength {
		return nil, &CompileError{Message: fmt.Sprintf("template longer than %d bytes", MaxTemplateLength)}
	}
	e, err := actEnv()
	if err != nil {
		return nil, err
	}
	t := &Template{src: src}
	rest, off := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			line, col := position(src, off+i)
			return nil, &CompileError{Line: line, Column: col, Message: "unclosed {{: a placeholder ends with }}"}
		}
		expr := rest[i+2 : i+2+j]
		start := off + i + 2
		if strings.TrimSpace(expr) == "" {
			line, col := position(src, off+i)
			return nil, &CompileError{Line: line, Column: col, Message: "empty placeholder"}
		}
		ast, err := compileChecked(e, expr)
		if err != nil {
			ce := err.(*CompileError)
			if ce.Line > 0 {
				// Place the error in the template: the expression starts
				// at start.
				line, col := position(src, start)
				if ce.Line == 1 {
					ce.Column += col - 1
				}
				ce.Line += line - 1
			}
			return nil, ce
		}
		prg, err := program(e, ast)
		if err != nil {
			return nil, &CompileError{Message: err.Error()}
		}
		t.parts = append(t.parts, templatePart{prg: prg})
		off = start + j + 2
		rest = src[off:]
	}
}

// position returns the 1-based line and column (in runes) of byte offset
// off of src.
func position(src string, off int) (line, col int) {
	line = 1 + strings.Count(src[:off], "\n")
	lineStart := strings.LastIndex(src[:off], "\n") + 1
	return line, 1 + len([]rune(src[lineStart:off]))
}

// Source returns the template as written.
func (t *Template) Source() string { return t.src }

// Render fills the placeholders with their values for s: strings as they
// are, whole numbers without decimals, other numbers with two. A
// placeholder that fails to evaluate renders as "?".
func (t *Template) Render(s *Subject) string {
	var b strings.Builder
	var act interpreter.Activation
	for _, p := range t.parts {
		if p.prg == nil {
			b.WriteString(p.text)
			continue
		}
		if act == nil {
			act = s.bind()
		}
		out, _, err := p.prg.Eval(act)
		if err != nil {
			b.WriteString("?")
			continue
		}
		b.WriteString(formatValue(out.Value()))
	}
	return b.String()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatFloat(x, 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
