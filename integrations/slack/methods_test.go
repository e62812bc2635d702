package slack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// calledMethods reads this package's source and returns the Web API
// method named in every c.call / c.callOn, which is the only way the
// client reaches Slack.
func calledMethods(t *testing.T) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "call" && sel.Sel.Name != "callOn") || len(call.Args) < 2 {
				return true
			}
			if id, ok := call.Args[1].(*ast.Ident); ok && id.Name == "method" {
				return true // call passing its own argument on to callOn
			}
			lit, ok := call.Args[1].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: %s with a method name that is not a literal", fset.Position(call.Pos()), sel.Sel.Name)
				return true
			}
			name, _ := strconv.Unquote(lit.Value)
			found[name] = true
			return true
		})
	}
	return found
}

func TestMethodTable_CoversEveryCall(t *testing.T) {
	called := calledMethods(t)
	if len(called) < 10 {
		t.Fatalf("found only %d called methods: %v", len(called), called)
	}
	for name := range called {
		if _, ok := methods[name]; !ok {
			t.Errorf("the client calls %s, which is not in the methods table (tier, scopes)", name)
		}
	}
	for name := range methods {
		if !called[name] {
			t.Errorf("%s is in the methods table but never called: its scopes would be asked for nothing", name)
		}
	}
}

func TestRequiredScopes(t *testing.T) {
	want := []string{
		"channels:history", "channels:manage", "channels:read", "chat:write", "files:write", "groups:read",
		"im:write", "pins:write", "users:read", "users:read.email",
	}
	if got := RequiredScopes(); !slices.Equal(got, want) {
		t.Fatalf("RequiredScopes() = %v, want %v", got, want)
	}
}
