package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// readNested reads a request body that is one JSON object of any depth
// (a WebAuthn credential, which the passkey package parses), with the
// strictness readJSON applies to flat bodies, at every level: valid
// UTF-8, no duplicate or case-variant keys (encoding/json would take the
// last of them, matched case-insensitively), nothing after the object.
func readNested(r *http.Request) ([]byte, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return body, checkNested(body)
}

// checkNested checks body for readNested.
func checkNested(body []byte) error {
	dec, err := objectDecoder(body)
	if err != nil {
		return err
	}
	if err := checkObject(dec, 0); err != nil {
		return err
	}
	return endOfBody(dec)
}

// maxNesting bounds the depth checkObject recurses to; a credential is
// four levels deep.
const maxNesting = 8

// checkObject checks the members of an object whose '{' dec has just
// read, through its '}'.
func checkObject(dec *json.Decoder, depth int) error {
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return badJSON("malformed JSON")
		}
		key := tok.(string) // object keys are always strings
		if folded := strings.ToLower(key); seen[folded] {
			return badJSON(fmt.Sprintf("duplicate key %q", key))
		} else {
			seen[folded] = true
		}
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return badJSON("malformed JSON")
	}
	return nil
}

// checkValue checks the next value of dec.
func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return badJSON("malformed JSON")
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth+1 > maxNesting {
		return badJSON("JSON nested too deeply")
	}
	if d == '{' {
		return checkObject(dec, depth+1)
	}
	for dec.More() {
		if err := checkValue(dec, depth+1); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return badJSON("malformed JSON")
	}
	return nil
}
