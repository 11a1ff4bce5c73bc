package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 16 << 10

// jsonContentType and okBody are shared by every response and never
// mutated: assigned directly, they cost the hot path no allocation.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	okBody          = []byte(`"ok"`)
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types get here; they always marshal.
		panic(fmt.Sprintf("httpapi: marshal response: %v", err))
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(b)
}

// writeOK answers "ok", the seed's body for a success with nothing to say.
func writeOK(w http.ResponseWriter, status int) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(status)
	w.Write(okBody)
}

// readJSON reads a request body that must be one flat JSON object into
// dst, a pointer to a request struct whose fields are all strings named by
// their json tags; a field that is absent or null stays "". It is strict
// where encoding/json is lenient, because a lenient parser in front of an
// auth service is a way to smuggle values past checks: keys are matched
// exactly, a duplicate or case-variant of a field is refused, a known
// field must be a string, nothing may follow the object, and the body must
// be valid UTF-8. Unknown fields are ignored (clients written for Rails
// may send extra parameters).
func readJSON(r *http.Request, dst any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, dst)
}

// readBody reads a JSON request body (checking its content type) whole.
func readBody(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, apiError(auth.CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge
		}
		return nil, apiError(auth.CodeBadRequest, "Could not read the request body")
	}
	return body, nil
}

// errTooLarge answers a body over maxBodyBytes, announced or read.
var errTooLarge = apiError(auth.CodePayloadTooLarge, fmt.Sprintf("Request body is larger than %d bytes", maxBodyBytes))

func decodeJSON(body []byte, dst any) error {
	fields := stringFields(dst)
	dec, err := objectDecoder(body)
	if err != nil {
		return err
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badJSON("malformed JSON")
		}
		key := tok.(string) // object keys are always strings
		folded := strings.ToLower(key)
		if seen[folded] {
			return badJSON(fmt.Sprintf("duplicate key %q", key))
		}
		seen[folded] = true
		f, known := fieldFor(key, fields)
		if !known {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return badJSON("malformed JSON")
			}
			continue
		}
		if f.name != key {
			return badJSON(fmt.Sprintf("unknown key %q (did you mean %q?)", key, f.name))
		}
		tok, err = dec.Token()
		if err != nil {
			return badJSON("malformed JSON")
		}
		switch v := tok.(type) {
		case string:
			f.value.SetString(v)
		case nil:
		default:
			return badJSON(fmt.Sprintf("%q must be a string", key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return badJSON("malformed JSON")
	}
	return endOfBody(dec)
}

// objectDecoder checks that body is valid UTF-8 and opens with a JSON
// object, and returns a decoder just past its '{'.
func objectDecoder(body []byte) (*json.Decoder, error) {
	if !utf8.Valid(body) {
		return nil, badJSON("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, badJSON("expected a JSON object")
	}
	return dec, nil
}

// endOfBody checks that nothing follows the object dec has just closed.
func endOfBody(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return badJSON("unexpected data after the JSON object")
	}
	return nil
}

// field is a request struct's field and the JSON name it is sent under.
type field struct {
	name  string
	value reflect.Value
}

// stringFields lists the fields of *dst. Request structs hold only
// strings, so no number, object or boolean can reach a handler in a form
// its checks did not expect; a struct that breaks the rule is a bug that
// TestRequestStructs catches before a request does.
func stringFields(dst any) []field {
	v := reflect.ValueOf(dst).Elem()
	fields := make([]field, v.NumField())
	for i := range fields {
		sf := v.Type().Field(i)
		name := sf.Tag.Get("json")
		if sf.Type.Kind() != reflect.String || name == "" {
			panic(fmt.Sprintf("httpapi: request field %s.%s must be a string with a json tag", v.Type(), sf.Name))
		}
		fields[i] = field{name: name, value: v.Field(i)}
	}
	return fields
}

// fieldFor finds the field that key names, ignoring case.
func fieldFor(key string, fields []field) (field, bool) {
	for _, f := range fields {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}

func badJSON(why string) error {
	return apiError(auth.CodeBadRequest, "Invalid request body: "+why)
}
