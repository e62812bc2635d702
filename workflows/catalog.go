package workflows

import (
	"path"

	"github.com/opsbot/opsbot/workflows/offhours"
	"strings"
	"time"
)

// Catalog is the policy side of the configuration, already validated: the
// teams, their policies, and the server templates they may use. The config
// package builds it from YAML; workflows only reads it.
type Catalog struct {
	Teams     []*Team
	Templates []*Template
	Pricing   Pricing
	// Incidents is the incident policy; nil when incidents are not
	// configured.
	Incidents *IncidentPolicy
	// Admins (Slack user IDs or emails) run opsbot for the organisation:
	// they may see every team's budget.
	Admins []string
	// OffHours are the named off-hours schedules (their zone is left
	// unset: a server's schedule is read in its team's zone); Idle says
	// when a server counts as idle.
	OffHours map[string]*offhours.Schedule
	Idle     IdlePolicy
	// Accounts are the AWS accounts opsbot works in; empty means one
	// account, the SDK's default credential chain.
	Accounts []*Account
}

// Account is one AWS account opsbot launches servers in (through STS
// AssumeRole of RoleARN) and reports spend of.
type Account struct {
	Name       string // how people and templates name it: "prod"
	ID         string // the 12-digit account ID
	RoleARN    string // assumed for EC2 calls; empty: the default chain
	ExternalID string
	Regions    []string // regions templates may use in it; empty: any
}

// Account returns the account with that name.
func (c *Catalog) Account(name string) (*Account, bool) {
	for _, a := range c.Accounts {
		if a.Name == name {
			return a, true
		}
	}
	return nil, false
}

// AccountName is the name of the account with that 12-digit ID, or the
// ID when the config does not name it.
func (c *Catalog) AccountName(id string) string {
	for _, a := range c.Accounts {
		if a.ID == id {
			return a.Name
		}
	}
	return id
}

// IsAdmin reports whether p is one of the config's admins.
func (c *Catalog) IsAdmin(p Person) bool { return anyIs(p, c.Admins) }

// Person is someone acting through chat. Either field may be empty; config
// names people by Slack user ID or by email, and both are matched.
type Person struct {
	SlackID string
	Email   string
}

// String names the person for logs and the audit log.
func (p Person) String() string {
	switch {
	case p.SlackID != "" && p.Email != "":
		return p.SlackID + " <" + p.Email + ">"
	case p.SlackID != "":
		return p.SlackID
	default:
		return p.Email
	}
}

// Is reports whether the config entry ref (a Slack user ID or an email)
// names this person.
func (p Person) Is(ref string) bool {
	if ref == "" {
		return false
	}
	if strings.Contains(ref, "@") {
		return p.Email != "" && strings.EqualFold(ref, p.Email)
	}
	return p.SlackID != "" && ref == p.SlackID
}

// Team is a group that shares a budget, approvers and a policy.
type Team struct {
	Name             string
	ApprovalsChannel string // Slack channel ID or name where approvals are posted
	Members          []string
	Approvers        []string
	Location         *time.Location // months and times shown to people are in this zone
	MonthlyBudget    Money
	Policy           *Policy

	// AnnounceChannel gets a one-line notice of each new incident.
	AnnounceChannel string
	// IncidentMembers are invited to every incident channel of the team.
	IncidentMembers []string
	// PagerDutyService is paged when someone declares an incident for the
	// team from Slack.
	PagerDutyService string
	// OffHours names the team's off-hours schedule (Catalog.OffHours);
	// empty: none. A template's own setting wins.
	OffHours string
}

// HasMember reports whether p is a member (approvers count as members).
func (t *Team) HasMember(p Person) bool { return anyIs(p, t.Members) || anyIs(p, t.Approvers) }

// IsApprover reports whether p may decide the team's approvals.
func (t *Team) IsApprover(p Person) bool { return anyIs(p, t.Approvers) }

func anyIs(p Person, refs []string) bool {
	for _, r := range refs {
		if p.Is(r) {
			return true
		}
	}
	return false
}

// Month returns the budget month of t in the team's time zone, as
// "2006-01".
func (t *Team) Month(at time.Time) string { return at.In(t.zone()).Format("2006-01") }

func (t *Team) zone() *time.Location {
	if t.Location == nil {
		return time.UTC
	}
	return t.Location
}

// LocalTime formats t for a person of this team, with the zone name.
func (t *Team) LocalTime(at time.Time) string {
	return at.In(t.zone()).Format("Mon 2 Jan 15:04 MST")
}

// Policy groups the rules in Scalr's five categories.
type Policy struct {
	Name        string
	Access      AccessPolicy
	Placement   PlacementPolicy
	Integration IntegrationPolicy
	Financial   FinancialPolicy
	Lifecycle   LifecyclePolicy
	Actions     ActionPolicy
}

// AccessPolicy says who may request what and how many approvers decide.
type AccessPolicy struct {
	// Templates the team may request; "*" allows every template that lists
	// the team.
	Templates []string
	// Tiers, by ascending Above: a request whose estimate is above a tier's
	// amount needs that tier's number of distinct approvals.
	Tiers []ApprovalTier
	// ApprovalTimeout is how long an approval waits before it expires.
	ApprovalTimeout time.Duration
	// RemindEvery is how often approvers are reminded of a waiting approval.
	RemindEvery time.Duration
}

// ApprovalTier maps a cost threshold to the number of approvals needed.
type ApprovalTier struct {
	Above     Money
	Approvals int
}

// PlacementPolicy limits where and on what servers run.
type PlacementPolicy struct {
	Regions       []string // empty: any
	InstanceTypes []string // shell patterns like "t3.*"; empty: any
	Subnets       []string // subnet IDs servers may be launched into; empty: any
}

// IntegrationPolicy says what every server must carry.
type IntegrationPolicy struct {
	RequiredTags []string // tag keys every template must set
	UserData     string   // cloud-init appended to the template's own
}

// OverBudget says what happens to a request that would exceed the budget.
type OverBudget string

// What to do with a request that does not fit in the remaining budget.
const (
	OverBudgetApprove OverBudget = "require_approval"
	OverBudgetDeny    OverBudget = "deny"
)

// FinancialPolicy governs money.
type FinancialPolicy struct {
	// AutoApproveBelow is the ceiling per request under which a request
	// that fits in the budget is approved without a person.
	AutoApproveBelow Money
	OverBudget       OverBudget
}

// EndAction is what happens to a server when its lease ends.
type EndAction string

// The actions at the end of a lease.
const (
	EndStop      EndAction = "stop"
	EndTerminate EndAction = "terminate"
)

// LifecyclePolicy governs leases.
type LifecyclePolicy struct {
	DefaultLease  time.Duration
	MaxLease      time.Duration // longest single request or extension
	MaxLifetime   time.Duration // longest total life from the lease start
	MaxExtensions int           // self-service extensions; beyond them an approver decides
	WarnBefore    []time.Duration
	EndAction     EndAction
	Grace         time.Duration // between the lease end and the end action
}

// Template is a kind of server people can request.
type Template struct {
	Name           string
	Description    string
	InstanceType   string
	AMI            string
	Region         string
	Subnet         string
	SecurityGroups []string
	KeyName        string
	RootVolumeGB   int
	Tags           map[string]string
	UserData       string
	Teams          []string         // teams that may use it
	Lifecycle      *LifecyclePolicy // overrides the team's when set
	// PublicIP gives servers a public address; the default is none.
	PublicIP bool
	// InstanceProfile is the IAM instance profile (name or ARN) servers
	// run with; empty: none.
	InstanceProfile string
	// OffHours names the off-hours schedule of its servers, over the
	// team's; NoOffHours: never, whatever the team's.
	OffHours   string
	NoOffHours bool
	// Account names the AWS account (Catalog.Accounts) servers are
	// launched in; empty: the default account.
	Account string
}

// Pricing is the fallback price table, used when the AWS Price List API
// cannot be reached.
type Pricing struct {
	// Hourly on-demand prices by region, then instance type.
	Hourly map[string]map[string]Money
	// VolumePerGBMonth is the price of a GB of root volume for a month
	// (730 hours).
	VolumePerGBMonth Money
}

// Team returns the team with that name.
func (c *Catalog) Team(name string) (*Team, bool) {
	for _, t := range c.Teams {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}

// teamNamed finds a team as a person types its name: exactly, or else
// ignoring case.
func (c *Catalog) teamNamed(name string) (*Team, bool) {
	if t, ok := c.Team(name); ok {
		return t, true
	}
	for _, t := range c.Teams {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return nil, false
}

// TeamOf returns the first team p belongs to.
func (c *Catalog) TeamOf(p Person) (*Team, bool) {
	for _, t := range c.Teams {
		if t.HasMember(p) {
			return t, true
		}
	}
	return nil, false
}

// Template returns the template with that name.
func (c *Catalog) Template(name string) (*Template, bool) {
	for _, t := range c.Templates {
		if strings.EqualFold(t.Name, name) {
			return t, true
		}
	}
	return nil, false
}

// TemplatesFor lists the templates a team may request.
func (c *Catalog) TemplatesFor(team *Team) []*Template {
	var out []*Template
	for _, t := range c.Templates {
		if allowsTemplate(team, t) {
			out = append(out, t)
		}
	}
	return out
}

// Lifecycle returns the lifecycle policy that governs tpl for team.
func Lifecycle(team *Team, tpl *Template) LifecyclePolicy {
	if tpl != nil && tpl.Lifecycle != nil {
		return *tpl.Lifecycle
	}
	return team.Policy.Lifecycle
}

func allowsTemplate(team *Team, tpl *Template) bool {
	listed := false
	for _, n := range tpl.Teams {
		if n == team.Name || n == "*" {
			listed = true
		}
	}
	if !listed {
		return false
	}
	for _, n := range team.Policy.Access.Templates {
		if n == "*" || strings.EqualFold(n, tpl.Name) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// IncidentPolicy is how incidents run.
type IncidentPolicy struct {
	// ChannelPattern names incident channels: {id}, {title}, {date},
	// {severity}. Default "{id}-{title}".
	ChannelPattern string
	// TimelineReaction is the reaction (name without colons) that puts a
	// channel message on the timeline. Default "pushpin".
	TimelineReaction string
	// UpdateEvery is, per severity, how long an open incident may go
	// without a status update before the commander is nagged.
	UpdateEvery map[Severity]time.Duration
	// AnyMessageResets makes any message in the channel count as an update.
	AnyMessageResets bool
	// MeetingNagAfter is how long after resolution the post-mortem meeting
	// must be recorded before the channel is nagged; MeetingNagEvery is
	// how often the nag repeats.
	MeetingNagAfter time.Duration
	MeetingNagEvery time.Duration
	// PostmortemDue is how long after resolution the post-mortem must be
	// marked done.
	PostmortemDue time.Duration
	// BusinessHours, when set, holds back nags for incidents other than
	// sev1 outside these hours (in the team's time zone).
	BusinessHours *BusinessHours
	// NotionDatabase is the Notion database post-mortems are created in.
	NotionDatabase string
	// Checklist and Postmortem are template texts (text/template) for the
	// response checklist and the post-mortem body.
	Checklist  string
	Postmortem string
	// BySeverity and ByService override the templates for one severity or
	// one PagerDuty service (the service wins), and a severity can invite
	// extra people to its incidents' channels.
	BySeverity map[Severity]*IncidentVariant
	ByService  map[string]*IncidentVariant
	// Review is the alert review's schedule and limits; nil means the
	// defaults (every other Monday 10:00 in each team's zone).
	Review *ReviewPolicy
	// Services maps PagerDuty service IDs to teams; DefaultTeam takes
	// events from any other service.
	Services    map[string]string
	DefaultTeam string
	// DeclareLimit is how many incidents one person may declare from
	// Slack within DeclareWindow; 0 means no limit.
	DeclareLimit  int
	DeclareWindow time.Duration
	// StormLimit is how many incidents of one PagerDuty service get a
	// channel of their own within StormWindow; newer ones are linked into
	// the newest open one's channel. 0 means no limit.
	StormLimit  int
	StormWindow time.Duration
	// MaxSnooze is the longest a reminder may be snoozed.
	MaxSnooze time.Duration
}

// IncidentVariant is what differs for incidents of one severity or one
// service. Empty templates fall back to the next level: service, then
// severity, then the incidents section, then the built-in ones.
type IncidentVariant struct {
	Checklist  string
	Postmortem string
	Invite     []string // Slack user IDs or emails; severities only
}

// ChecklistFor returns the checklist template for an incident.
func (p *IncidentPolicy) ChecklistFor(sev Severity, service string) string {
	return p.pick(sev, service, func(v *IncidentVariant) string { return v.Checklist }, p.Checklist)
}

// PostmortemFor returns the post-mortem template for an incident.
func (p *IncidentPolicy) PostmortemFor(sev Severity, service string) string {
	return p.pick(sev, service, func(v *IncidentVariant) string { return v.Postmortem }, p.Postmortem)
}

func (p *IncidentPolicy) pick(sev Severity, service string, get func(*IncidentVariant) string, def string) string {
	if v := p.ByService[service]; v != nil && get(v) != "" {
		return get(v)
	}
	if v := p.BySeverity[sev]; v != nil && get(v) != "" {
		return get(v)
	}
	return def
}

// BusinessHours is a weekly window of working time.
type BusinessHours struct {
	Days       []time.Weekday
	Start, End time.Duration // since local midnight
}

// Contains reports whether t, in loc, is within business hours.
func (b *BusinessHours) Contains(t time.Time, loc *time.Location) bool {
	if b == nil {
		return true
	}
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	day := false
	for _, d := range b.Days {
		day = day || d == local.Weekday()
	}
	if !day {
		return false
	}
	since := time.Duration(local.Hour())*time.Hour + time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second
	return since >= b.Start && since < b.End
}

// TeamForService returns the team that owns a PagerDuty service.
func (c *Catalog) TeamForService(service string) (*Team, bool) {
	if c.Incidents == nil {
		return nil, false
	}
	name, ok := c.Incidents.Services[service]
	if !ok {
		name = c.Incidents.DefaultTeam
	}
	return c.Team(name)
}
