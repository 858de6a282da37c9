package domain

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestFoldText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Reklamacja dostawy":       "reklamacja dostawy",
		"Lieferung verspätet!":     "lieferung verspatet",
		"STRASSE / Straße":         "strasse strasse",
		"Żółć, gęślą jaźń":         "zolc gesla jazn",
		"ŁÓDŹ":                     "lodz",
		"Ærø  Øresund":             "aero oresund",
		"ΟΔΥΣΣΕΥΣ":                 "οδυσσευσ",
		"Οδυσσεύς":                 "οδυσσευσ",
		"ﬁle №5":                   "file no5",
		"ＡＢＣ１２３":                   "abc123",
		"配送が遅れた":                   "配 送 か\u3099 遅 れ た",
		"ｶﾞｲﾄﾞ":                    "カ\u3099 イ ト\u3099",
		"  --  ":                   "",
		"İstanbul ıstakoz":         "istanbul istakoz",
		"e\u0301te\u0301 (NFD)":    "ete nfd",
		"Dostawa: zła! (nr 12/34)": "dostawa zla nr 12 34",
	} {
		if got := foldText(in); got != want {
			t.Errorf("foldText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTopicMatcher(t *testing.T) {
	t.Parallel()
	m := NewTopicMatcher([]TopicRule{
		{Topic: "delivery", Keywords: []string{"dostaw", "Lieferung", "verspät", "late deliver", "livraison", "entrega", "配送", "доставк"}},
		{Topic: "complaint-process", Keywords: []string{"reklamac", "Beschwerde"}},
		{Topic: "billing", Keywords: []string{"faktur", "invoice", "Rechnung", "factura"}},
		{Topic: "quality", Keywords: []string{"qualité", "jakość"}},
	})
	for text, want := range map[string]string{
		// The earliest keyword in the text wins.
		"Reklamacja dostawy":                    "complaint-process",
		"Dostawa spóźniona, reklamacja":         "delivery",
		"Lieferung verspätet":                   "delivery",
		"LIEFERUNG VERSPATET":                   "delivery",
		"Die Rechnung kam vor der Lieferung":    "billing",
		"The LATE   delivery of my order":       "delivery",
		"La livraison est en retard":            "delivery",
		"Qualite du produit":                    "quality",
		"JAKOŚĆ produktu":                       "quality",
		"jakosc":                                "quality",
		"La factura está mal":                   "billing",
		"La entrega llegó tarde":                "delivery",
		"配送が遅れた":                                "delivery",
		"Доставка опоздала":                     "delivery",
		"Faktura VAT":                           "billing",
		"podostawie":                            "", // a keyword starts at the start of a word
		"late deliveries":                       "delivery",
		"latedelivery":                          "",
		"nothing to see here":                   "",
		"":                                      "",
		"invoice-related: delivery (late) fine": "billing",
	} {
		got, ok := m.Match(text)
		if got != want || ok != (want != "") {
			t.Errorf("Match(%q) = %q, %v; want %q", text, got, ok, want)
		}
	}
	// At the same position the longer keyword wins, then the first topic.
	m = NewTopicMatcher([]TopicRule{{Topic: "b", Keywords: []string{"late"}}, {Topic: "c", Keywords: []string{"late delivery"}}, {Topic: "a", Keywords: []string{"late"}}})
	if got, _ := m.Match("late delivery"); got != "c" {
		t.Errorf("longest keyword: %q", got)
	}
	if got, _ := m.Match("late payment"); got != "a" {
		t.Errorf("tie: %q", got)
	}
	if got, ok := NewTopicMatcher(nil).Match("anything"); ok || got != "" {
		t.Errorf("no rules: %q", got)
	}
}

func TestTopicRuleValidate(t *testing.T) {
	t.Parallel()
	r := TopicRule{Topic: " Delivery ", Keywords: []string{" dostawa ", "DOSTAWA", "Dostawą", "lieferung"}}
	r.Normalize()
	if r.Topic != "delivery" || strings.Join(r.Keywords, "|") != "dostawa|lieferung" {
		t.Fatalf("normalized: %+v", r)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r     TopicRule
		field string
	}{
		{TopicRule{Topic: "", Keywords: []string{"x"}}, "topic"},
		{TopicRule{Topic: "x"}, "keywords"},
		{TopicRule{Topic: "x", Keywords: []string{"!!!"}}, "keywords[0]"},
		{TopicRule{Topic: "x", Keywords: []string{"ok", strings.Repeat("k", MaxTopicKeywordSize+1)}}, "keywords[1]"},
		{TopicRule{Topic: "x", Keywords: make([]string, MaxTopicKeywords+1)}, "keywords"},
	} {
		wantViolation(t, tc.r.Validate(), tc.field, "")
	}
}

// FuzzTopicMatcher checks the matcher on arbitrary text and keywords: it
// never panics, folding is idempotent and blind to normalization form and
// case, and a keyword written into a text as a word of its own is found.
func FuzzTopicMatcher(f *testing.F) {
	for _, s := range [][2]string{
		{"Reklamacja dostawy", "dostaw"}, {"Lieferung verspätet", "VERSPÄT"}, {"配送が遅れた", "配送"},
		{"ΟΔΥΣΣΕΥΣ", "οδυσσευς"}, {"İı", "i"}, {"ﬁ", "fi"}, {"\u0345\u0399", "ι"}, {"a\u0308\u0301", "ä"},
		{"", ""}, {"\xff\xfe", "\x00"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, keyword string) {
		ft := foldText(text)
		if foldText(ft) != ft {
			t.Fatalf("not idempotent: %q → %q → %q", text, ft, foldText(ft))
		}
		if strings.Contains(ft, "  ") || strings.HasPrefix(ft, " ") || strings.HasSuffix(ft, " ") {
			t.Fatalf("stray spaces in %q", ft)
		}
		if utf8.ValidString(text) {
			if got := foldText(norm.NFD.String(text)); got != ft {
				t.Fatalf("NFD differs: %q vs %q", got, ft)
			}
			if got := foldText(norm.NFC.String(text)); got != ft {
				t.Fatalf("NFC differs: %q vs %q", got, ft)
			}
		}
		m := NewTopicMatcher([]TopicRule{{Topic: "t", Keywords: []string{keyword}}})
		topic, ok := m.Match(text)
		if ok != (topic == "t") {
			t.Fatalf("Match = %q, %v", topic, ok)
		}
		if foldText(keyword) == "" {
			if ok {
				t.Fatalf("keyword %q without letters matched %q", keyword, text)
			}
			return
		}
		if _, ok := m.Match(text + " " + keyword + " " + text); !ok && utf8.ValidString(keyword) && utf8.ValidString(text) {
			t.Fatalf("keyword %q not found in %q", keyword, text+" "+keyword+" "+text)
		}
		if _, ok := m.Match(strings.ToUpper(keyword)); !ok && isLatin(keyword) {
			t.Fatalf("upper-case %q not matched by %q", strings.ToUpper(keyword), keyword)
		}
	})
}

// isLatin reports whether s is made of ASCII and Latin-1 letters and
// spaces, whose upper case folds back without surprises.
func isLatin(s string) bool {
	for _, r := range s {
		if r > 0xff || r == 0xb5 || r == 0xdf || r == 0xff {
			return false
		}
	}
	return true
}
