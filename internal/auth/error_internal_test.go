package auth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"slices"
	"strconv"
	"testing"
)

// TestCodesListsEveryCode: Codes() names every Code constant declared in
// error.go, so a code added there without being listed cannot slip past
// httpapi's check that each code has a status.
func TestCodesListsEveryCode(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]Code{} // constant name → value
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, n := range vs.Names {
				v, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatalf("%s: %v", n.Name, err)
				}
				declared[n.Name] = Code(v)
			}
		}
	}
	want := slices.Sorted(maps.Values(declared))
	got := slices.Sorted(slices.Values(Codes()))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("Codes() = %q; error.go declares %q", got, want)
	}
}
