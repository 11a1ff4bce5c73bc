package httpapi

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestOpenAPIErrorCodes: the document's list of error codes is the
// code→status table's, so a code added to errors.go without being
// documented fails here even before a scenario produces it.
func TestOpenAPIErrorCodes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	got := slices.Sorted(slices.Values(doc.Components.Schemas.Error.Properties.Code.Enum))
	var want []string
	for code := range statusOf {
		want = append(want, string(code))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("openapi.json components.schemas.Error code enum: got %q, want the codes of statusOf %q", got, want)
	}
}
