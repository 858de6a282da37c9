package memory

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/potentialhq/potential/store/storetest"
)

// TestErasure holds the in-memory store to the right to be forgotten,
// searching every value reachable from the store for the erased customer.
func TestErasure(t *testing.T) {
	t.Parallel()
	s := New()
	storetest.Erasure(t, s, func(t *testing.T, text string) []storetest.Place {
		s.mu.RLock()
		defer s.mu.RUnlock()
		var out []storetest.Place
		seen := map[uintptr]bool{}
		var walk func(v reflect.Value, path string)
		walk = func(v reflect.Value, path string) {
			switch v.Kind() {
			case reflect.String:
				if strings.Contains(v.String(), text) {
					out = append(out, storetest.Place{Where: path, Text: v.String(), Audit: strings.HasPrefix(path, ".audit")})
				}
			case reflect.Slice:
				if v.IsNil() || seen[v.Pointer()] && v.Len() > 0 {
					return
				}
				if v.Type().Elem().Kind() == reflect.Uint8 {
					if b := v.Bytes(); bytes.Contains(b, []byte(text)) {
						out = append(out, storetest.Place{Where: path, Text: string(b), Audit: strings.HasPrefix(path, ".audit")})
					}
					return
				}
				seen[v.Pointer()] = true
				fallthrough
			case reflect.Array:
				for i := range v.Len() {
					walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
				}
			case reflect.Map:
				iter := v.MapRange()
				for iter.Next() {
					walk(iter.Key(), path+"{key}")
					walk(iter.Value(), fmt.Sprintf("%s[%v]", path, iter.Key()))
				}
			case reflect.Pointer:
				if v.IsNil() || seen[v.Pointer()] {
					return
				}
				seen[v.Pointer()] = true
				walk(v.Elem(), path)
			case reflect.Interface:
				if !v.IsNil() {
					walk(v.Elem(), path)
				}
			case reflect.Struct:
				for i := range v.NumField() {
					walk(v.Field(i), path+"."+v.Type().Field(i).Name)
				}
			}
		}
		walk(reflect.ValueOf(s).Elem(), "")
		return out
	})
}
