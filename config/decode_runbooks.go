package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// envNamePattern is an environment variable's name as config may name it.
var envNamePattern = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)

// paramNamePattern is a runbook parameter's name: it is the key in the
// JSON body and the block ID on the form.
var paramNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// runbooksDecl is what cross-section checks need of `runbooks:`.
type runbooksDecl struct {
	teams []ref
}

// decodeRunbooks reads `runbooks:`, the config-defined actions people
// run from Slack (`/ops run NAME`, App Home):
//
//	runbooks:
//	  - name: restart-service
//	    description: Restart one service of the platform
//	    url: https://ops-hooks.internal/restart   # POSTed a signed JSON body
//	    secret_env: RUNBOOK_RESTART_SECRET         # the HMAC secret's environment variable
//	    teams: [platform]                          # or ["*"]
//	    run_by: members                            # members (default), approvers or admins
//	    need_approver: false                       # an approver (not the asker) confirms each run
//	    timeout: 10s                               # per attempt (default 10s, at most 2m)
//	    retries: 2                                 # more attempts on no answer, 429 or 5xx (default 2, at most 5)
//	    callback_timeout: 1h                       # after a 202, the final callback's deadline (default 1h, 1m to 6h)
//	    params:
//	      - {name: service, type: choice, options: [api, worker], required: true}
//	      - {name: replicas, type: number, min: 1, max: 10, integer: true, default: 1}
//	      - {name: reason, type: string, max_length: 200, pattern: "^[ -~]+$"}
//	      - {name: drain, type: bool, default: true}
//	      - {name: token, type: string, secret: true}
func decodeRunbooks(d *decoder, n *yaml.Node, b *build) {
	names := map[string]place{}
	for i, item := range d.sequence("runbooks", n) {
		p := index("runbooks", i)
		m := d.mapping(p, item, "name", "description", "url", "secret_env", "teams", "run_by", "need_approver", "timeout", "retries", "callback_timeout", "params")
		m.require("name", "url", "secret_env", "teams")
		rb := &runbooks.Runbook{
			Name:            m.str("name"),
			Description:     m.str("description"),
			URL:             m.str("url"),
			SecretEnv:       m.str("secret_env"),
			NeedApprover:    m.boolean("need_approver", false),
			Timeout:         m.duration("timeout", runbooks.DefaultTimeout),
			Retries:         m.integer("retries", runbooks.DefaultRetries),
			CallbackTimeout: m.duration("callback_timeout", runbooks.DefaultCallbackTimeout),
			RunBy:           runbooks.Role(strings.ToLower(m.str("run_by"))),
		}
		checkUnique(d, names, rb.Name, nameAt(d, m), "runbook")
		if rb.URL != "" {
			if u, err := url.Parse(rb.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.problemAt(m.at("url"), m.line("url"), "%q is not an http:// or https:// URL", rb.URL)
			}
		}
		if rb.SecretEnv != "" && !envNamePattern.MatchString(rb.SecretEnv) {
			d.problemAt(m.at("secret_env"), m.line("secret_env"), "%q is not an environment variable name (capitals, digits and _)", rb.SecretEnv)
		}
		switch rb.RunBy {
		case "":
			rb.RunBy = runbooks.RoleMembers
		case runbooks.RoleMembers, runbooks.RoleApprovers, runbooks.RoleAdmins:
		default:
			d.problemAt(m.at("run_by"), m.line("run_by"), "%q is not members, approvers or admins", rb.RunBy)
		}
		if rb.Timeout > runbooks.MaxTimeout {
			d.problemAt(m.at("timeout"), m.line("timeout"), "at most %s: a longer job should answer 202 and call back", workflows.FormatDuration(runbooks.MaxTimeout))
		}
		if rb.CallbackTimeout < runbooks.MinCallbackTimeout || rb.CallbackTimeout > runbooks.MaxCallbackTimeout {
			d.problemAt(m.at("callback_timeout"), m.line("callback_timeout"), "must be %s to %s: how long after the endpoint's 202 its final callback may come",
				workflows.FormatDuration(runbooks.MinCallbackTimeout), workflows.FormatDuration(runbooks.MaxCallbackTimeout))
		}
		if rb.Retries < 0 || rb.Retries > runbooks.MaxRetries {
			d.problemAt(m.at("retries"), m.line("retries"), "must be 0 to %d", runbooks.MaxRetries)
		}
		teams := m.list("teams")
		rb.Teams = values(teams)
		if m.has("teams") && len(teams) == 0 {
			d.problemAt(m.at("teams"), m.line("teams"), `is empty: list the teams whose people may run it, or ["*"]`)
		}
		for _, it := range teams {
			if it.s != "*" {
				b.runbooks.teams = append(b.runbooks.teams, ref{it.s, at(it.path, it.n)})
			}
		}
		params := d.sequence(m.at("params"), m.get("params"))
		if len(params) > runbooks.MaxParams {
			d.problemAt(m.at("params"), m.line("params"), "at most %d parameters fit on a form", runbooks.MaxParams)
		}
		seen := map[string]bool{}
		for j, pn := range params {
			prm := decodeParam(d, index(m.at("params"), j), pn)
			if prm.Name != "" && seen[prm.Name] {
				d.problem(field(index(m.at("params"), j), "name"), pn, "parameter %q is declared twice", prm.Name)
			}
			seen[prm.Name] = true
			rb.Params = append(rb.Params, prm)
		}
		b.cfg.Runbooks = append(b.cfg.Runbooks, rb)
	}
}

func decodeParam(d *decoder, p string, n *yaml.Node) runbooks.Param {
	m := d.mapping(p, n, "name", "label", "help", "type", "required", "default", "options", "min", "max", "integer", "pattern", "max_length", "secret")
	m.require("name", "type")
	prm := runbooks.Param{
		Name:      m.str("name"),
		Label:     m.str("label"),
		Help:      m.str("help"),
		Type:      runbooks.ParamType(strings.ToLower(m.str("type"))),
		Required:  m.boolean("required", false),
		Default:   m.str("default"),
		Integer:   m.boolean("integer", false),
		MaxLength: m.integer("max_length", 0),
		Secret:    m.boolean("secret", false),
	}
	if prm.Name != "" && !paramNamePattern.MatchString(prm.Name) {
		d.problemAt(m.at("name"), m.line("name"), "%q is not a parameter name: lower-case letters, digits and _, starting with a letter (at most 40)", prm.Name)
	}
	if len([]rune(prm.LabelText())) > 2000 || len([]rune(prm.Help)) > 2000 {
		d.problemAt(p, line(n), "label and help must be at most 2000 characters (Slack's limit)")
	}
	if prm.Type != "" && !slices.Contains(runbooks.ParamTypes, prm.Type) {
		d.problemAt(m.at("type"), m.line("type"), "%q is not a parameter type (use string, choice, number or bool)", prm.Type)
	}
	num := func(key string) *float64 {
		if !m.has(key) {
			return nil
		}
		if f, ok := m.float(key); ok {
			return &f
		}
		return nil
	}
	prm.Min, prm.Max = num("min"), num("max")
	if prm.Min != nil && prm.Max != nil && *prm.Min > *prm.Max {
		d.problemAt(m.at("min"), m.line("min"), "is above max")
	}
	opts := m.list("options")
	prm.Options = values(opts)
	if prm.Type == runbooks.TypeChoice && len(prm.Options) == 0 {
		d.problemAt(m.at("options"), m.line("type"), "a choice needs options")
	}
	if len(prm.Options) > 100 {
		d.problemAt(m.at("options"), m.line("options"), "at most 100 options (Slack's limit for a select)")
	}
	for _, it := range opts {
		if it.s == "" || len([]rune(it.s)) > 75 {
			d.problem(it.path, it.n, "an option must be 1 to 75 characters (Slack's limit)")
		}
	}
	if pat := m.str("pattern"); pat != "" {
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			d.problemAt(m.at("pattern"), m.line("pattern"), "is not a regular expression: %v", err)
		} else {
			prm.Pattern = re
		}
	}
	if prm.MaxLength < 0 || prm.MaxLength > 3000 {
		d.problemAt(m.at("max_length"), m.line("max_length"), "must be 1 to 3000 (Slack's limit for a text input)")
	}
	wrongFor := func(key string, types ...runbooks.ParamType) {
		if m.has(key) && prm.Type != "" && !slices.Contains(types, prm.Type) {
			d.problemAt(m.at(key), m.line(key), "applies to %s parameters only", joinTypes(types))
		}
	}
	wrongFor("options", runbooks.TypeChoice)
	wrongFor("min", runbooks.TypeNumber)
	wrongFor("max", runbooks.TypeNumber)
	wrongFor("integer", runbooks.TypeNumber)
	wrongFor("pattern", runbooks.TypeString)
	wrongFor("max_length", runbooks.TypeString)
	wrongFor("secret", runbooks.TypeString)
	if prm.Default != "" && slices.Contains(runbooks.ParamTypes, prm.Type) {
		if _, problem := prm.Parse(prm.Default); problem != "" {
			d.problemAt(m.at("default"), m.line("default"), "the default %q is not valid: %s", prm.Default, problem)
		}
	}
	return prm
}

func joinTypes(ts []runbooks.ParamType) string {
	var s []string
	for _, t := range ts {
		s = append(s, string(t))
	}
	return strings.Join(s, ", ")
}

// linkRunbooks checks that each runbook's teams exist.
func linkRunbooks(d *decoder, b *build) {
	for _, r := range b.runbooks.teams {
		checkTeamRef(d, b, r)
	}
}

// RunbookSecrets reads each runbook's HMAC secret from the environment
// (getenv); a missing or short one is an error naming the variable.
func (c *Config) RunbookSecrets(getenv func(string) string) (map[string][]byte, error) {
	out := map[string][]byte{}
	var missing []string
	for _, rb := range c.Runbooks {
		v := getenv(rb.SecretEnv)
		if len(v) < 16 {
			missing = append(missing, fmt.Sprintf("%s (runbook %s)", rb.SecretEnv, rb.Name))
			continue
		}
		out[rb.Name] = []byte(v)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s must hold the runbook's HMAC secret (at least 16 characters)", strings.Join(missing, ", "))
	}
	return out, nil
}
