package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/internal/seal"
)

func TestBox(t *testing.T) {
	root := []byte("seal-test-root-secret-32-bytes!!")
	box, err := seal.New(root, "purpose/v1")
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	plain, aad := []byte("JBSWY3DPEHPK3PXP"), []byte("row 1")
	sealed := box.Seal(plain, aad)
	if bytes.Contains(sealed, plain) {
		t.Fatalf("Seal(%q) = %x: contains the plain text", plain, sealed)
	}
	if got, err := box.Open(sealed, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open(Seal(%q)) = %q, %v", plain, got, err)
	}
	other, _ := seal.New(root, "purpose/v2")
	otherRoot, _ := seal.New([]byte("another-root-secret-of-32-bytes!"), "purpose/v1")
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	tests := []struct {
		name   string
		box    *seal.Box
		sealed []byte
		aad    []byte
	}{
		{name: "OtherRow", box: box, sealed: sealed, aad: []byte("row 2")},
		{name: "OtherPurpose", box: other, sealed: sealed, aad: aad},
		{name: "OtherRoot", box: otherRoot, sealed: sealed, aad: aad},
		{name: "Altered", box: box, sealed: altered, aad: aad},
		{name: "Short", box: box, sealed: sealed[:5], aad: aad},
	}
	for _, tt := range tests {
		if _, err := tt.box.Open(tt.sealed, tt.aad); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("Open(%s) = %v, want ErrOpen", tt.name, err)
		}
	}
}
