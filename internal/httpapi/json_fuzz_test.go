package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// FuzzDecodeFields feeds arbitrary bytes to the decoder in front of every
// request body. It must never panic, and whatever it accepts must be
// valid UTF-8, valid JSON, and mean to encoding/json what it meant to
// decodeFields: the same string for every field, nothing for a field that
// is absent or null.
func FuzzDecodeFields(f *testing.F) {
	for _, seed := range []string{
		`{"email":"chelsey@prohaska.name","password":"6JzwdrAeiTeDrL"}`,
		`{"email":null,"password":"x","remember_me":{"days":[30,1e3,true]}}`,
		`{"email":"a","\u0065mail":"b"}`,
		`{"Email":"a"}`,
		`{"paſſword":"x"}`,
		`{} {}`,
		"{\"email\":\"\xff\"}",
		`{"email":1}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	fields := []string{"email", "password"}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := decodeFields(body, fields)
		if err != nil {
			if code := auth.ErrorCode(err); code != auth.CodeBadRequest {
				t.Fatalf("decodeFields(%q): got error code %q, want bad_request", body, code)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("decodeFields(%q) = %q, nil: accepted a body that is not valid UTF-8 JSON", body, got)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("decodeFields(%q) = %q, nil: encoding/json refuses it: %v", body, got, err)
		}
		for _, field := range fields {
			v, ok := got[field]
			want, isString := m[field].(string)
			if ok != isString || v != want {
				t.Errorf("decodeFields(%q)[%q] = %q, %v; encoding/json reads %#v", body, field, v, ok, m[field])
			}
		}
		for k := range got {
			if k != "email" && k != "password" {
				t.Errorf("decodeFields(%q): got field %q, want only %q", body, k, fields)
			}
		}
	})
}
