package web

import (
	"html/template"
	"slices"
	"text/template/parse"
)

// TemplateMessages lists the message ids that the pages' templates (with
// the overlay of Options.Templates) translate with T and Tb, found in
// their parse trees, so every branch counts whether a test renders it or
// not. Sorted.
func (r *Renderer) TemplateMessages() []string {
	seen := map[string]bool{}
	for _, name := range r.sources.names {
		// Every language parses the same sources; the default one's trees
		// are collected without keeping them.
		t, err := r.sources.parse(name, r.funcs(r.langs[0]))
		if err != nil {
			continue // New has parsed every page an overlay gives
		}
		collect(t, seen)
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func collect(t *template.Template, seen map[string]bool) {
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walk(tt.Tree.Root, seen)
		}
	}
}

func walk(n parse.Node, seen map[string]bool) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walk(c, seen)
		}
	case *parse.ActionNode:
		walk(n.Pipe, seen)
	case *parse.IfNode:
		walk(n.Pipe, seen)
		walk(n.List, seen)
		walk(n.ElseList, seen)
	case *parse.RangeNode:
		walk(n.Pipe, seen)
		walk(n.List, seen)
		walk(n.ElseList, seen)
	case *parse.WithNode:
		walk(n.Pipe, seen)
		walk(n.List, seen)
		walk(n.ElseList, seen)
	case *parse.TemplateNode:
		walk(n.Pipe, seen)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			walk(c, seen)
		}
	case *parse.CommandNode:
		if len(n.Args) >= 2 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "T" || id.Ident == "Tb") {
				if s, ok := n.Args[1].(*parse.StringNode); ok {
					seen[s.Text] = true
				}
			}
		}
		for _, a := range n.Args {
			walk(a, seen)
		}
	}
}
