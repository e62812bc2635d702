package config

import (
	"regexp"
	"strings"
)

// namePattern is what a team, template or policy name may look like:
// people type them in slash commands (`/ops server request gpu-large`), so
// no spaces.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// nameAt checks the `name` field of m and returns where it is.
func nameAt(d *decoder, m *mapping) place {
	if n := m.scalar("name"); n != nil && !namePattern.MatchString(n.Value) {
		d.problem(m.at("name"), n, "%q is not a usable name: use letters, digits, '.', '_' or '-' (at most 64), since people type it in commands", n.Value)
	}
	return place{m.at("name"), m.line("name")}
}

// checkUnique reports a name already declared; names differing only in
// case count as the same, since people type them.
func checkUnique(d *decoder, seen map[string]place, name string, where place, kind string) {
	if name == "" {
		return
	}
	k := strings.ToLower(name)
	if first, ok := seen[k]; ok {
		d.problemAt(where.path, where.line, "duplicate %s name %q (first at %s, line %d)", kind, name, strings.TrimSuffix(first.path, ".name"), first.line)
		return
	}
	seen[k] = where
}
