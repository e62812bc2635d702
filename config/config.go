// Package config reads opsbot's policy file (YAML) and its environment
// (secrets and endpoints) into validated values. Every problem names the
// field path and line, and all problems are reported at once, so an
// operator fixes a config in one pass.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // team time zones must load even on hosts without a zoneinfo database

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/costs"
	"github.com/opsbot/opsbot/workflows/runbooks"
)

// Defaults for the scheduler section.
const (
	// DefaultTick is how often leases and approvals are checked when
	// scheduler.tick is not given.
	DefaultTick = time.Minute
	// DefaultReconcile is how often opsbot compares its records with the
	// cloud when scheduler.reconcile is not given.
	DefaultReconcile = 5 * time.Minute
)

// Config is everything the policy file says, validated.
type Config struct {
	// Catalog holds teams, their policies, templates and fallback prices.
	Catalog *workflows.Catalog
	// Scheduler says how often the background loops run.
	Scheduler SchedulerConfig
	// Backup is the scheduled backups (backup.go); its Schedule is nil
	// when the file has no backup section.
	Backup BackupConfig
	// Costs is actual spend, budget alerts and the monthly cost review;
	// nil without a costs section.
	Costs *costs.Policy
	// Runbooks are the config-defined actions (decode_runbooks.go).
	Runbooks []*runbooks.Runbook
	// Source names where the config came from (its file name), for
	// messages and logs.
	Source string
}

// SchedulerConfig is the `scheduler:` section.
type SchedulerConfig struct {
	// Tick is how often leases and approvals are checked (default 1m).
	Tick time.Duration
	// Reconcile is how often opsbot's records are compared with the cloud
	// (default 5m).
	Reconcile time.Duration
}

// Load reads and validates the policy file at path. A file that cannot be
// read gives a wrapped error; a file with problems gives Problems.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(data, path)
}

// section decodes one top-level key of the file into b. Each section lives
// in its own file (decode_*.go); a new section is a new file, a field on
// Config or build, and a line in sections.
type section struct {
	key    string
	decode func(d *decoder, n *yaml.Node, b *build)
}

// sections are decoded in this order whatever order the file uses, so
// later sections can refer to earlier ones (teams name policies).
var sections = []section{
	{"scheduler", decodeScheduler},
	{"pricing", decodePricing},
	{"admins", decodeAdmins},
	{"accounts", decodeAccounts},
	{"policies", decodePolicies},
	{"teams", decodeTeams},
	{"templates", decodeTemplates},
	{"incidents", decodeIncidents},
	{"off_hours", decodeOffHours},
	{"idle", decodeIdle},
	{"backup", decodeBackup},
	{"costs", decodeCosts},
	{"runbooks", decodeRunbooks},
}

// checks run after every section is decoded: references between sections
// and rules that span them.
var checks = []func(d *decoder, b *build){
	linkTeams,
	linkAccess,
	linkTemplates,
	checkApprovers,
	checkTemplatesForTeams,
	checkPrices,
	linkIncidents,
	linkOffHours,
	linkAccounts,
	linkCosts,
	linkRunbooks,
}

// build is the config being assembled, with the places in the file that
// cross-section checks point at.
type build struct {
	cfg        *Config
	rootLine   int
	policies   []*policyDecl
	teams      []*teamDecl
	templates  []*templateDecl
	incidents  *incidentsDecl // nil when the file has no incidents section
	costsPayer place          // costs.payer_account
	runbooks   runbooksDecl
	// dir is the config file's directory, where relative paths in it
	// (incident templates) are read from.
	dir string
}

// place is where something is in the file.
type place struct {
	path string
	line int
}

func at(path string, n *yaml.Node) place { return place{path, line(n)} }

// ref is a name that refers to something declared elsewhere.
type ref struct {
	name string
	at   place
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse validates a policy file's contents; name is used in messages
// (normally the file name), and relative paths in the file (incident
// templates) are read from name's directory.
func Parse(data []byte, name string) (*Config, error) {
	d := &decoder{source: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.problems = append(d.problems, syntaxProblems(name, err)...)
		return nil, d.problems
	}
	if !d.checkExpansion(&doc) {
		return nil, d.problems
	}
	b := &build{
		cfg: &Config{
			Catalog: &workflows.Catalog{},
			Source:  name,
		},
		rootLine: 1,
		dir:      filepath.Dir(name),
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
		b.rootLine = max(line(resolve(root)), 1)
	}
	known := make([]string, len(sections))
	for i, s := range sections {
		known[i] = s.key
	}
	top := d.mapping("", root, known...)
	if top.bad {
		return nil, d.problems
	}
	for _, s := range sections {
		s.decode(d, top.vals[s.key], b)
	}
	for _, c := range checks {
		c(d, b)
	}
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	return b.cfg, nil
}

// syntaxProblems turns a YAML parse error into problems with lines.
func syntaxProblems(name string, err error) Problems {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out Problems
	for _, m := range msgs {
		p := Problem{Source: name, Message: "invalid YAML: " + strings.TrimPrefix(m, "yaml: ")}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			p.Line, _ = strconv.Atoi(g[1])
			p.Message = "invalid YAML: " + g[2]
		}
		// yaml.v3 counts lines from 0 for parser errors (scanner errors
		// are right), and leaves the line out when it is the first.
		if isParserError(strings.TrimPrefix(p.Message, "invalid YAML: ")) {
			p.Line++
		}
		out = append(out, p)
	}
	return out
}

// isParserError recognises yaml.v3's parser (not scanner) problems; see
// gopkg.in/yaml.v3 parserc.go and decode.go (parser.fail).
func isParserError(msg string) bool {
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag handle"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
