package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// FuzzDecodeJSON feeds arbitrary bytes to the decoder in front of every
// request body. It must never panic, and whatever it accepts must be
// valid UTF-8, valid JSON, and mean to encoding/json what it meant to
// decodeJSON: the same string for every field, "" for a field that is
// absent or null.
func FuzzDecodeJSON(f *testing.F) {
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
	f.Fuzz(func(t *testing.T, body []byte) {
		var got signInRequest
		if err := decodeJSON(body, &got); err != nil {
			if code := auth.ErrorCode(err); code != auth.CodeBadRequest {
				t.Fatalf("decodeJSON(%q): got error code %q, want bad_request", body, code)
			}
			return
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("decodeJSON(%q) = %+v, nil: accepted a body that is not valid UTF-8 JSON", body, got)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("decodeJSON(%q) = %+v, nil: encoding/json refuses it: %v", body, got, err)
		}
		for field, v := range map[string]string{"email": got.Email, "password": got.Password} {
			want, _ := m[field].(string) // absent and null read as ""
			if _, isString := m[field].(string); !isString && m[field] != nil {
				t.Errorf("decodeJSON(%q) accepted %q = %#v, which is not a string", body, field, m[field])
			}
			if v != want {
				t.Errorf("decodeJSON(%q).%s = %q; encoding/json reads %#v", body, field, v, m[field])
			}
		}
	})
}

// FuzzCheckNested feeds arbitrary bytes to the check in front of the
// passkey finishes' bodies. It must never panic, and what it accepts
// must be one valid UTF-8 JSON object.
func FuzzCheckNested(f *testing.F) {
	for _, seed := range []string{
		`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","transports":["usb"]},"clientExtensionResults":{}}`,
		`{"response":{"signature":"a","Signature":"b"}}`,
		`{"a":[[[[[[[[[[1]]]]]]]]]]}`,
		`{} []`,
		"{\"id\":\"\xff\"}",
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkNested(body); err != nil {
			if code := auth.ErrorCode(err); code != auth.CodeBadRequest {
				t.Fatalf("checkNested(%q): got error code %q, want bad_request", body, code)
			}
			return
		}
		var m map[string]any
		if !utf8.Valid(body) || json.Unmarshal(body, &m) != nil {
			t.Fatalf("checkNested(%q) = nil: accepted a body that is not one UTF-8 JSON object", body)
		}
	})
}
