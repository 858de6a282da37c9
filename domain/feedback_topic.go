package domain

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Limits of topic rules.
const (
	MaxTopicRules       = 500 // per tenant
	MaxTopicKeywords    = 50  // per rule
	MaxTopicKeywordSize = 100 // bytes of UTF-8
)

// foldText reduces text to the form keywords are matched in: words of
// letters and digits, case-folded and without diacritics, separated by
// single spaces. Step by step:
//
//  1. The compatibility caseless form of Unicode's definition D146,
//     NFKD(fold(NFKD(fold(NFD(s))))) with full case folding: "Straße" and
//     "STRASSE" agree, as do Greek final and medial sigma, text sent
//     composed or decomposed, ligatures and their letters ("ﬁ", "fi"), and
//     full-width and half-width forms and their plain ones.
//  2. Nonspacing marks (category Mn) are dropped: "ó" becomes "o", "ä"
//     becomes "a". Kana keep their voicing marks (が is not か).
//  3. Letters that carry a stroke rather than a combining mark are mapped
//     by hand: ł → l, đ → d, ø → o, ħ → h, ı → i, æ → ae, œ → oe, þ → th.
//  4. Every character that is not a letter, digit or spacing mark (spaces,
//     punctuation, symbols) separates words. Han ideographs and kana, which
//     are written without spaces, are each a word of their own.
func foldText(s string) string {
	fold := cases.Fold()
	s = norm.NFKD.String(fold.String(norm.NFKD.String(fold.String(norm.NFD.String(s)))))
	var b strings.Builder
	b.Grow(len(s))
	sep := false  // a word break is pending
	kana := false // the last character written is kana
	write := func(r rune) {
		if sep && b.Len() > 0 {
			b.WriteByte(' ')
		}
		sep = false
		b.WriteRune(r)
	}
	for _, r := range s {
		switch {
		case (r == '\u3099' || r == '\u309a') && kana:
			b.WriteRune(r) // voicing mark of the kana before
			kana = false
		case unicode.Is(unicode.Mn, r):
		case unicode.In(r, unicode.Hiragana, unicode.Katakana, unicode.Han):
			sep = true
			write(r)
			sep, kana = true, !unicode.Is(unicode.Han, r)
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mc, unicode.Me, unicode.Nl, unicode.No):
			if m, ok := strokeLetters[r]; ok {
				for _, x := range m {
					write(x)
				}
			} else {
				write(r)
			}
			kana = false
		default:
			sep, kana = true, false
		}
	}
	return b.String()
}

// strokeLetters maps letters whose diacritic is part of the letter (no
// decomposition) to their plain forms; input is already case-folded.
var strokeLetters = map[rune]string{
	'ł': "l", 'đ': "d", 'ø': "o", 'ħ': "h", 'ı': "i", 'æ': "ae", 'œ': "oe", 'þ': "th", 'ŧ': "t", 'ƀ': "b", 'ɨ': "i",
}

// TopicMatcher derives topics from text with a tenant's keyword rules.
//
// Matching is case- and diacritics-insensitive and works the same for
// every language written in Unicode: text and keywords are both reduced by
// foldText (case folding, compatibility decomposition, marks removed,
// punctuation as word breaks). A keyword matches where it starts at the
// start of a word of the text; it may end inside a word, so a keyword can
// be a stem: "reklamac" matches "Reklamacja" and "reklamację", "dostaw"
// matches "dostawy", "verspät" matches "verspätet" and "VERSPATET". A
// keyword of several words matches those words in sequence ("late
// delivery" matches "Late  delivery!"). Han ideographs and kana are words
// of one character each, so a Japanese or Chinese keyword matches anywhere.
//
// When keywords of several rules match, the topic is the one whose keyword
// starts earliest in the text; at the same position the longer keyword
// wins, then the topic that sorts first.
type TopicMatcher struct {
	keywords []foldedKeyword
}

type foldedKeyword struct {
	topic string
	text  string // " " + folded keyword
}

// NewTopicMatcher prepares rules for matching.
func NewTopicMatcher(rules []TopicRule) *TopicMatcher {
	m := &TopicMatcher{}
	for _, r := range rules {
		for _, k := range r.Keywords {
			if f := foldText(k); f != "" {
				m.keywords = append(m.keywords, foldedKeyword{topic: r.Topic, text: " " + f})
			}
		}
	}
	return m
}

// Match returns the topic the text is about, or "" and false when no
// keyword matches.
func (m *TopicMatcher) Match(text string) (string, bool) {
	if len(m.keywords) == 0 {
		return "", false
	}
	t := " " + foldText(text)
	best, bestAt, bestLen := "", -1, 0
	for _, k := range m.keywords {
		at := strings.Index(t, k.text)
		if at < 0 {
			continue
		}
		if bestAt < 0 || at < bestAt || (at == bestAt && (len(k.text) > bestLen || (len(k.text) == bestLen && k.topic < best))) {
			best, bestAt, bestLen = k.topic, at, len(k.text)
		}
	}
	return best, bestAt >= 0
}

// Normalize trims and lower-cases the topic, trims the keywords and drops
// those that repeat an earlier one after folding; keywords keep their
// order otherwise.
func (r *TopicRule) Normalize() {
	r.Topic = NormalizeTopic(r.Topic)
	seen := map[string]bool{}
	out := make([]string, 0, len(r.Keywords))
	for _, k := range r.Keywords {
		k = strings.TrimSpace(k)
		f := foldText(k)
		if f != "" && seen[f] {
			continue
		}
		seen[f] = true
		out = append(out, k)
	}
	r.Keywords = out
}

// Validate checks a rule as received (after Normalize).
func (r *TopicRule) Validate() error {
	var v violations
	validTopic(&v, "topic", r.Topic)
	switch n := len(r.Keywords); {
	case n == 0:
		v.add("keywords", "at least one keyword")
	case n > MaxTopicKeywords:
		v.add("keywords", "at most %d keywords, got %d", MaxTopicKeywords, n)
	}
	for i, k := range r.Keywords {
		if len(k) > MaxTopicKeywordSize || !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			v.add(itemPath("keywords", i), "must be valid UTF-8 of at most %d bytes", MaxTopicKeywordSize)
		} else if foldText(k) == "" {
			v.add(itemPath("keywords", i), "%q has no letters or digits", k)
		}
	}
	return v.err()
}

// sortTopicRules orders rules by topic.
func sortTopicRules(rs []TopicRule) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Topic < rs[j].Topic })
}
