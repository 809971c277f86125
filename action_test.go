package latchkey_test

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"

	"latchkey"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite the generated files under docs/")

// TestActionsListed: every Action constant declared in action.go is in
// latchkey.Actions once, and each is noun.verb. (The store panics when
// asked to record an action that is not listed: sqlstore's
// TestRecordRefusesUnlistedAction.)
func TestActionsListed(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "action.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Action" {
				continue
			}
			for _, v := range vs.Values {
				declared[strings.Trim(v.(*ast.BasicLit).Value, `"`)] = true
			}
		}
	}
	shape := regexp.MustCompile(`^[a-z]+\.[a-z_]+$`)
	listed := map[latchkey.Action]bool{}
	for _, a := range latchkey.Actions {
		if listed[a.Action] {
			t.Errorf("%s is listed twice", a.Action)
		}
		listed[a.Action] = true
		if !shape.MatchString(string(a.Action)) || a.Target == "" || a.What == "" {
			t.Errorf("%+v: want a noun.verb action with a target and a description", a)
		}
		if !declared[string(a.Action)] {
			t.Errorf("%s is listed but not declared as a constant", a.Action)
		}
		if !a.Action.Known() {
			t.Errorf("%s is not Known", a.Action)
		}
	}
	for d := range declared {
		if !listed[latchkey.Action(d)] {
			t.Errorf("constant %s is not in latchkey.Actions", d)
		}
	}
	if latchkey.Action("lock.nonsense").Known() {
		t.Error("an unlisted action is Known")
	}
}

// TestAuditActionsDoc: docs/audit-actions.md is generated from
// latchkey.Actions (go test -run TestAuditActionsDoc -update-docs .).
func TestAuditActionsDoc(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Audit actions\n\n")
	b.WriteString("Generated from `latchkey.Actions` (action.go) by `go test -run TestAuditActionsDoc -update-docs .`; " +
		"the test fails when this file and the list differ, and the store refuses to record an action that is not listed.\n\n")
	b.WriteString("| action | stream topic | target | what happened |\n|---|---|---|---|\n")
	for _, a := range latchkey.Actions {
		topic := latchkey.EventTopic(a.Action)
		if topic == "" {
			topic = "-"
		}
		b.WriteString("| `" + string(a.Action) + "` | " + topic + " | " + a.Target + " | " + a.What + " |\n")
	}
	const path = "docs/audit-actions.md"
	if *updateDocs {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestAuditActionsDoc -update-docs .)", err)
	}
	if string(got) != b.String() {
		t.Fatalf("%s is out of date: run go test -run TestAuditActionsDoc -update-docs .", path)
	}
}
