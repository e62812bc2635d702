package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeAdmins reads `admins:`, the people (Slack user IDs or emails) who
// run opsbot for the whole organisation. They may see every team's budget;
// nobody else sees a team's budget but its members and approvers. The
// section is optional: without it, only teams see their own budgets.
func decodeAdmins(d *decoder, n *yaml.Node, b *build) {
	if isNull(n) {
		return
	}
	seen := map[string]bool{}
	for i, item := range d.sequence("admins", n) {
		p := index("admins", i)
		if item.Kind != yaml.ScalarNode || !isPersonRef(item.Value) {
			d.problem(p, item, "%q is neither a Slack user ID (U0123ABCD) nor an email address", item.Value)
			continue
		}
		if seen[strings.ToLower(item.Value)] {
			d.problem(p, item, "%s is listed twice", item.Value)
			continue
		}
		seen[strings.ToLower(item.Value)] = true
		b.cfg.Catalog.Admins = append(b.cfg.Catalog.Admins, item.Value)
	}
}
