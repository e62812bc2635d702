package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Limits on what a config file may expand to. Aliases (*name) and merge
// keys (<<: *name) are followed wherever they are used, so a few hundred
// bytes that merge a mapping into itself ten times over, level after
// level, would make the decoder walk ten million entries (the "billion
// laughs"), and an anchor merged into itself would never end. A real
// policy file is a few thousand values and a handful of levels deep.
const (
	// MaxValues is the most values a file may hold once every alias is
	// followed.
	MaxValues = 100_000
	// MaxDepth is the deepest nesting of mappings and lists, aliases
	// followed.
	MaxDepth = 64
)

// checkExpansion walks doc the way the decoder will, following aliases,
// and reports a problem when it holds more than MaxValues values or nests
// deeper than MaxDepth. It stops at the first excess, so it costs at most
// MaxValues steps whatever the file.
func (d *decoder) checkExpansion(doc *yaml.Node) bool {
	w := walker{}
	w.walk(doc, 0)
	if w.at == nil {
		return true
	}
	what := fmt.Sprintf("more than %d values", MaxValues)
	if w.deep {
		what = fmt.Sprintf("nesting deeper than %d levels", MaxDepth)
	}
	d.problem("", w.at, "the file expands to %s through aliases (*name) and merge keys (<<); write the values out or use fewer aliases", what)
	return false
}

type walker struct {
	n    int
	deep bool
	at   *yaml.Node // where a limit was passed; nil while within them
}

func (w *walker) walk(n *yaml.Node, depth int) {
	if n == nil || w.at != nil {
		return
	}
	w.n++
	switch {
	case w.n > MaxValues:
		w.at = n
		return
	case depth > MaxDepth:
		w.at, w.deep = n, true
		return
	}
	if n.Kind == yaml.AliasNode {
		w.walk(n.Alias, depth+1)
		return
	}
	for _, c := range n.Content {
		w.walk(c, depth+1)
		if w.at != nil {
			return
		}
	}
}
