// Package runbooks is the runbook actions workflow: actions defined in
// config (a name, who may run them, whether an approver confirms, a form
// of typed parameters) that call an internal HTTP endpoint with a signed
// JSON body. Each run is recorded, audited, called once per idempotency
// key through the durable job queue, and reported in a thread; a
// long-running endpoint posts progress back to a signed opsbot route.
package runbooks

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ParamType is the type of a runbook parameter.
type ParamType string

// The parameter types.
const (
	TypeString ParamType = "string"
	TypeChoice ParamType = "choice"
	TypeNumber ParamType = "number"
	TypeBool   ParamType = "bool"
)

// ParamTypes lists them, for config errors.
var ParamTypes = []ParamType{TypeString, TypeChoice, TypeNumber, TypeBool}

// Role is who among a team may run a runbook.
type Role string

// The roles.
const (
	RoleMembers   Role = "members"   // any member (approvers are members)
	RoleApprovers Role = "approvers" // the team's approvers only
	RoleAdmins    Role = "admins"    // opsbot's admins only
)

// Defaults and limits.
const (
	DefaultTimeout   = 10 * time.Second
	MaxTimeout       = 2 * time.Minute
	DefaultRetries   = 2
	MaxRetries       = 5
	DefaultMaxLength = 200
	// DefaultCallbackTimeout is how long opsbot waits, after an
	// endpoint's 202, for its final callback before it marks the run
	// timed out; callback_timeout sets it per runbook, at least
	// MinCallbackTimeout, at most MaxCallbackTimeout.
	DefaultCallbackTimeout = time.Hour
	MinCallbackTimeout     = time.Minute
	MaxCallbackTimeout     = 6 * time.Hour
	// MaxParams is what fits in a modal with room to spare (Slack allows
	// 100 blocks).
	MaxParams = 20
)

// Runbook is one action defined in config.
type Runbook struct {
	Name        string
	Description string
	// URL is the internal endpoint the run is POSTed to.
	URL string
	// SecretEnv names the environment variable holding the HMAC secret
	// shared with the endpoint.
	SecretEnv string
	// Teams whose people may run it; "*" is every team.
	Teams []string
	// RunBy says who of those teams: members (default) or approvers;
	// admins means opsbot's admins only. Admins may always run it.
	RunBy Role
	// NeedApprover: an approver of the asker's team (or an admin), never
	// the asker, confirms each run before it is called.
	NeedApprover bool
	Timeout      time.Duration
	// Retries is how many more attempts a run gets after a transport
	// error, a timeout, a 429 or a 5xx, all with the same idempotency key.
	Retries int
	// CallbackTimeout is how long after the endpoint accepted a run (202)
	// its final callback may come; 0 is DefaultCallbackTimeout.
	CallbackTimeout time.Duration
	Params          []Param
}

// CallbackWait is how long a run of rb accepted by its endpoint waits
// for the final callback (rb nil: a runbook gone from config).
func (rb *Runbook) CallbackWait() time.Duration {
	if rb == nil || rb.CallbackTimeout <= 0 {
		return DefaultCallbackTimeout
	}
	return rb.CallbackTimeout
}

// Param is one typed field of a runbook's form.
type Param struct {
	Name     string
	Label    string // shown on the form; default the name
	Help     string
	Type     ParamType
	Required bool
	Default  string   // as typed in config; "" none
	Options  []string // choice
	Min, Max *float64 // number
	Integer  bool     // number: whole numbers only
	// Pattern (string) the whole value must match; MaxLength in
	// characters (default 200).
	Pattern   *regexp.Regexp
	MaxLength int
	// Secret values are sent to the endpoint but never shown in Slack or
	// written to the audit log.
	Secret bool
}

// LabelText is the label shown on the form.
func (p Param) LabelText() string {
	if p.Label != "" {
		return p.Label
	}
	return p.Name
}

// Param returns the parameter with that name.
func (rb *Runbook) Param(name string) (Param, bool) {
	for _, p := range rb.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

// Values are a run's parameters, typed: string, float64 or bool.
type Values map[string]any

// Validate reads raw form values (as Slack gives them, keyed by parameter
// name) against the runbook's parameters. It returns the typed values, or
// one problem per parameter that is wrong, keyed by parameter name.
// Unknown names are problems too (keyed by the name), so nothing the form
// did not offer reaches the endpoint.
func (rb *Runbook) Validate(raw map[string]string) (Values, map[string]string) {
	out := Values{}
	errs := map[string]string{}
	for name := range raw {
		if _, ok := rb.Param(name); !ok {
			errs[name] = fmt.Sprintf("%s takes no parameter %q.", rb.Name, name)
		}
	}
	for _, p := range rb.Params {
		s := strings.TrimSpace(raw[p.Name])
		if s == "" {
			s = p.Default
		}
		if s == "" {
			if p.Required {
				errs[p.Name] = "Required."
			}
			continue
		}
		v, problem := p.Parse(s)
		if problem != "" {
			errs[p.Name] = problem
			continue
		}
		out[p.Name] = v
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Parse reads one value of p; the problem is for the person filling the
// form.
func (p Param) Parse(s string) (any, string) {
	switch p.Type {
	case TypeChoice:
		if !slices.Contains(p.Options, s) {
			return nil, "Choose one of: " + strings.Join(p.Options, ", ") + "."
		}
		return s, ""
	case TypeBool:
		switch strings.ToLower(s) {
		case "true", "yes":
			return true, ""
		case "false", "no":
			return false, ""
		}
		return nil, "Choose yes or no."
	case TypeNumber:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !decimal.MatchString(s) || f > 1e15 || f < -1e15 {
			return nil, fmt.Sprintf("%q is not a number.", s)
		}
		if p.Integer && f != float64(int64(f)) {
			return nil, "A whole number, please."
		}
		if p.Min != nil && f < *p.Min {
			return nil, fmt.Sprintf("At least %s.", fmtNum(*p.Min))
		}
		if p.Max != nil && f > *p.Max {
			return nil, fmt.Sprintf("At most %s.", fmtNum(*p.Max))
		}
		return f, ""
	}
	max := p.MaxLength
	if max <= 0 {
		max = DefaultMaxLength
	}
	if n := utf8.RuneCountInString(s); n > max {
		return nil, fmt.Sprintf("At most %d characters (this is %d).", max, n)
	}
	if strings.ContainsAny(s, "\x00\r\n\u2028\u2029\u0085") {
		return nil, "One line, please."
	}
	if strings.ContainsFunc(s, invisible) {
		return nil, "Visible characters only, please: no tabs, control characters, zero-width or direction marks."
	}
	if p.Pattern != nil && !p.Pattern.MatchString(s) {
		pat := strings.TrimSuffix(strings.TrimPrefix(p.Pattern.String(), "^(?:"), ")$")
		return nil, fmt.Sprintf("Must match %s.", pat)
	}
	return s, ""
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Shown renders values for people: name=value, secrets hidden, in the
// runbook's parameter order.
func (rb *Runbook) Shown(v Values) string {
	var parts []string
	for _, p := range rb.Params {
		x, ok := v[p.Name]
		if !ok {
			continue
		}
		val := formatValue(x)
		if p.Secret {
			val = "(secret)"
		}
		parts = append(parts, p.Name+"="+val)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func formatValue(x any) string {
	switch v := x.(type) {
	case float64:
		return fmtNum(v)
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case string:
		return v
	}
	return fmt.Sprint(x)
}

// invisible reports a character the approver would not see as typed: a
// control character, or a format character (zero-width spaces and
// joiners, direction overrides and isolates, byte order marks), which
// would make two values look the same or show one backwards.
func invisible(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

// decimal is a number as people write it: digits, an optional fraction
// and exponent. Go's ParseFloat also reads 0x1A, 1_000, Inf and NaN,
// which a runbook's endpoint would receive as numbers nobody meant.
var decimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
