package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// decoder walks the YAML node tree and collects problems instead of
// stopping at the first one.
type decoder struct {
	source   string
	problems Problems
}

// problem records what is wrong at path; n gives the line (nil: none).
func (d *decoder) problem(path string, n *yaml.Node, format string, args ...any) {
	d.problemAt(path, line(n), format, args...)
}

func (d *decoder) problemAt(path string, ln int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Source: d.source, Path: path, Line: ln, Message: fmt.Sprintf(format, args...)})
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// resolve follows aliases (*name) to the node they point at.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether a value is absent: missing, `~`, `null` or empty.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// field appends a key to a path: "teams[0]" + "name" is "teams[0].name";
// keys with dots or other punctuation are quoted: `hourly_usd.us-east-1["t3.small"]`.
func field(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends a list index to a path.
func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// pair is one key and its value in a mapping.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// pairs lists a mapping's entries, reporting a value that is not a
// mapping, keys that are not plain text and keys given twice. Merge keys
// (`<<: *defaults`) are expanded; keys written out win over merged ones.
func (d *decoder) pairs(path string, n *yaml.Node) ([]pair, bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		d.problem(path, n, "must be a mapping of fields (name: value), not %s", kindName(n))
		return nil, false
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			d.problem(path, kn, "a key must be plain text, not %s", kindName(kn))
			continue
		}
		if kn.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if first, ok := seen[kn.Value]; ok {
			d.problem(field(path, kn.Value), kn, "given twice (first on line %d)", first.Line)
			continue
		}
		seen[kn.Value] = kn
		out = append(out, pair{kn.Value, kn, v})
	}
	for _, m := range merges {
		m = resolve(m)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, src := range srcs {
			sub, _ := d.pairs(path, src)
			for _, p := range sub {
				if _, ok := seen[p.key]; !ok {
					seen[p.key] = p.kn
					out = append(out, p)
				}
			}
		}
	}
	return out, true
}

// sequence lists a sequence's items, reporting a value that is not one.
func (d *decoder) sequence(path string, n *yaml.Node) []*yaml.Node {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(path, n, "must be a list, like [a, b] or lines starting with '- ', not %s", kindName(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		out[i] = resolve(c)
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch resolve(n).Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "empty"
	}
}

// mapping is one YAML mapping with a fixed set of fields, decoded field by
// field. Unknown fields are reported when it is made.
type mapping struct {
	d    *decoder
	path string
	node *yaml.Node // nil when the mapping is absent
	vals map[string]*yaml.Node
	bad  bool // not a mapping: its problem is reported, fields are not
}

// mapping opens n as a mapping whose fields are the ones listed.
func (d *decoder) mapping(path string, n *yaml.Node, fields ...string) *mapping {
	m := &mapping{d: d, path: path, node: resolve(n), vals: map[string]*yaml.Node{}}
	ps, ok := d.pairs(path, n)
	m.bad = !ok
	for _, p := range ps {
		if !contains(fields, p.key) {
			d.problem(field(path, p.key), p.kn, "unknown field%s", suggest(p.key, fields))
			continue
		}
		m.vals[p.key] = p.v
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest names the closest known field, or lists them all. A field is
// close when it is at most two edits away, or when a word of it is at most
// one edit from a word of the key ("budgt" suggests monthly_budget_usd,
// "grace_period" suggests grace).
func suggest(key string, fields []string) string {
	key = strings.ToLower(key)
	best, bestDist := "", 3
	for _, f := range fields {
		if d := editDistance(key, f); d < bestDist {
			best, bestDist = f, d
		}
	}
	for _, f := range fields {
		if best != "" {
			break
		}
		for _, kw := range strings.Split(key, "_") {
			for _, fw := range strings.Split(f, "_") {
				if len(kw) >= 4 && len(fw) >= 4 && editDistance(kw, fw) <= 1 {
					best = f
				}
			}
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
	return "; known fields: " + strings.Join(fields, ", ")
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// at returns the path of a field.
func (m *mapping) at(key string) string { return field(m.path, key) }

// get returns a field's value node, or nil when it is absent or null.
func (m *mapping) get(key string) *yaml.Node {
	n := m.vals[key]
	if isNull(n) {
		return nil
	}
	return resolve(n)
}

// has reports whether a field was given a value.
func (m *mapping) has(key string) bool { return m.get(key) != nil }

// line is the line of a field's value, or of the mapping when the field is
// absent.
func (m *mapping) line(key string) int {
	if n := m.get(key); n != nil {
		return n.Line
	}
	return line(m.node)
}

// require reports each listed field that has no value.
func (m *mapping) require(keys ...string) {
	if m.bad {
		return
	}
	for _, k := range keys {
		if !m.has(k) {
			m.d.problemAt(m.at(k), line(m.node), "is required")
		}
	}
}

// scalar returns a field's value node if it is a single value.
func (m *mapping) scalar(key string) *yaml.Node {
	n := m.get(key)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		m.d.problem(m.at(key), n, "must be a single value, not %s", kindName(n))
		return nil
	}
	return n
}

// str returns a text field, or "" when absent.
func (m *mapping) str(key string) string {
	if n := m.scalar(key); n != nil {
		return n.Value
	}
	return ""
}

// float returns a number field; ok is false when absent or wrong.
func (m *mapping) float(key string) (float64, bool) {
	n := m.scalar(key)
	if n == nil {
		return 0, false
	}
	return m.d.number(m.at(key), n)
}

// number reads a scalar node as a finite number.
func (d *decoder) number(path string, n *yaml.Node) (float64, bool) {
	var f float64
	if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		d.problem(path, n, "must be a number, not %q", n.Value)
		return 0, false
	}
	return f, true
}

// money reads a non-negative dollar amount, or def when absent.
func (m *mapping) money(key string, def workflows.Money) workflows.Money {
	f, ok := m.float(key)
	if !ok {
		return def
	}
	return m.d.dollars(m.at(key), m.get(key), f)
}

func (d *decoder) dollars(path string, n *yaml.Node, f float64) workflows.Money {
	if f < 0 {
		d.problem(path, n, "must not be negative (got %v)", f)
		return 0
	}
	return workflows.USD(f)
}

// boolean reads a true/false field, or def when absent. YAML 1.1 words
// like yes and no are refused: yaml.v3 reads them as text.
func (m *mapping) boolean(key string, def bool) bool {
	n := m.scalar(key)
	if n == nil {
		return def
	}
	var v bool
	if n.Tag != "!!bool" || n.Decode(&v) != nil {
		m.d.problem(m.at(key), n, "must be true or false, not %q", n.Value)
		return def
	}
	return v
}

// integer reads a whole-number field, or def when absent.
func (m *mapping) integer(key string, def int) int {
	n := m.scalar(key)
	if n == nil {
		return def
	}
	var i int
	if n.Tag != "!!int" || n.Decode(&i) != nil {
		m.d.problem(m.at(key), n, "must be a whole number, not %q", n.Value)
		return def
	}
	return i
}

// duration reads a positive duration ("90m", "4h", "2d"), or def when
// absent or wrong.
func (m *mapping) duration(key string, def time.Duration) time.Duration {
	n := m.scalar(key)
	if n == nil {
		return def
	}
	dur, ok := m.d.duration(m.at(key), n)
	if !ok {
		return def
	}
	return dur
}

func (d *decoder) duration(path string, n *yaml.Node) (time.Duration, bool) {
	dur, err := workflows.ParseDuration(n.Value)
	if err != nil {
		d.problem(path, n, "%s", err.Error())
		return 0, false
	}
	return dur, true
}

// item is one text value of a list, with where it is.
type item struct {
	s    string
	n    *yaml.Node
	path string // like "teams[0].approvers[2]"
}

// list reads a list of text values. Items that are not text are reported
// and left out.
func (m *mapping) list(key string) []item {
	var out []item
	for i, n := range m.d.sequence(m.at(key), m.get(key)) {
		p := index(m.at(key), i)
		if n.Kind != yaml.ScalarNode || isNull(n) {
			m.d.problem(p, n, "must be a single value, not %s", kindName(n))
			continue
		}
		out = append(out, item{n.Value, n, p})
	}
	return out
}

// values returns the text of each item.
func values(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.s
	}
	return out
}
