package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/auth"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 16 << 10

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own response types get here; they always marshal.
		panic(fmt.Sprintf("httpapi: marshal response: %v", err))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// readFields reads a request body that must be one flat JSON object and
// returns the string values of the given fields ("" when absent or null).
// It is strict where encoding/json is lenient, because a lenient parser in
// front of an auth service is a way to smuggle values past checks: keys are
// matched exactly, a duplicate or case-variant of a field is refused, a
// known field must be a string, nothing may follow the object, and the
// body must be valid UTF-8. Unknown fields are ignored (clients written for
// Rails may send extra parameters).
func readFields(r *http.Request, fields ...string) (map[string]string, error) {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return nil, apiError(auth.CodeUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, apiError(auth.CodePayloadTooLarge, fmt.Sprintf("Request body is larger than %d bytes", maxBodyBytes))
		}
		return nil, apiError(auth.CodeBadRequest, "Could not read the request body")
	}
	return decodeFields(body, fields)
}

func decodeFields(body []byte, fields []string) (map[string]string, error) {
	if !utf8.Valid(body) {
		return nil, badJSON("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, badJSON("expected a JSON object")
	}
	out := make(map[string]string, len(fields))
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, badJSON("malformed JSON")
		}
		key := tok.(string) // object keys are always strings
		folded := strings.ToLower(key)
		if seen[folded] {
			return nil, badJSON(fmt.Sprintf("duplicate key %q", key))
		}
		seen[folded] = true
		field, known := fieldFor(key, fields)
		if !known {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, badJSON("malformed JSON")
			}
			continue
		}
		if field != key {
			return nil, badJSON(fmt.Sprintf("unknown key %q (did you mean %q?)", key, field))
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, badJSON("malformed JSON")
		}
		switch v := tok.(type) {
		case string:
			out[key] = v
		case nil:
		default:
			return nil, badJSON(fmt.Sprintf("%q must be a string", key))
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, badJSON("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badJSON("unexpected data after the JSON object")
	}
	return out, nil
}

// fieldFor finds the field that key names, ignoring case.
func fieldFor(key string, fields []string) (string, bool) {
	for _, f := range fields {
		if strings.EqualFold(f, key) {
			return f, true
		}
	}
	return "", false
}

func badJSON(why string) error {
	return apiError(auth.CodeBadRequest, "Invalid request body: "+why)
}
