package config

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

// decodeActions reads a policy's `actions:`, who may run server actions
// on the team's servers: owner (default every action), members (default
// [diagnose]) and need_approver (default none), each a list of start,
// stop, reboot, snapshot, diagnose.
func decodeActions(d *decoder, p string, n *yaml.Node) workflows.ActionPolicy {
	a := workflows.DefaultActionPolicy()
	m := d.mapping(p, n, "owner", "members", "need_approver")
	read := func(key string, def []workflows.ServerAction) []workflows.ServerAction {
		if !m.has(key) {
			return def
		}
		out := []workflows.ServerAction{}
		for _, it := range m.list(key) {
			act := workflows.ServerAction(strings.ToLower(it.s))
			if !knownAction(act) {
				var names []string
				for _, k := range workflows.ServerActions {
					names = append(names, string(k))
				}
				d.problem(it.path, it.n, "%q is not a server action (use %s)", it.s, strings.Join(names, ", "))
				continue
			}
			out = append(out, act)
		}
		return out
	}
	a.Owner = read("owner", a.Owner)
	a.Members = read("members", a.Members)
	a.NeedApprover = read("need_approver", a.NeedApprover)
	return a
}

func knownAction(a workflows.ServerAction) bool {
	for _, k := range workflows.ServerActions {
		if k == a {
			return true
		}
	}
	return false
}
