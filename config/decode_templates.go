package config

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/workflows"
)

var (
	amiPattern    = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)
	subnetPattern = regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`)
	sgPattern     = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	// An IAM instance profile: its name, or its ARN.
	profilePattern = regexp.MustCompile(`^([\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::[0-9]{12}:instance-profile/([\w+=,.@-]+/)*[\w+=,.@-]{1,128})$`)
)

// EC2 limits a template must respect.
const (
	MaxRootVolumeGB = 16384                 // gp3's largest volume
	MaxUserData     = workflows.MaxUserData // EC2 user data, before base64
)

// templateDecl is a decoded template and what cross-section checks need.
type templateDecl struct {
	t            *workflows.Template
	at           place
	nameAt       place
	teams        []ref
	region       place
	instanceType place
	tags         place
	userData     place
	subnet       place // the template itself when it names no subnet
	offHours     ref   // off_hours: a schedule name, or none
	account      place
}

// decodeTemplates reads `templates:`, the kinds of server people can
// request. Required: name, instance_type, ami, region, root_volume_gb,
// teams (names or "*"). A template's own lifecycle block replaces the
// team policy's lifecycle entirely and takes the same defaults.
// public_ip (default false) gives its servers a public address;
// instance_profile (an IAM instance profile name or ARN) is optional.
func decodeTemplates(d *decoder, n *yaml.Node, b *build) {
	names := map[string]place{}
	for i, item := range d.sequence("templates", n) {
		td := decodeTemplate(d, index("templates", i), item)
		checkUnique(d, names, td.t.Name, td.nameAt, "template")
		b.templates = append(b.templates, td)
		b.cfg.Catalog.Templates = append(b.cfg.Catalog.Templates, td.t)
	}
}

func decodeTemplate(d *decoder, p string, n *yaml.Node) *templateDecl {
	m := d.mapping(p, n, "name", "description", "instance_type", "ami", "region", "subnet",
		"security_groups", "key_pair", "root_volume_gb", "tags", "user_data", "teams", "lifecycle",
		"public_ip", "instance_profile", "off_hours", "account")
	m.require("name", "instance_type", "ami", "region", "root_volume_gb", "teams")
	t := &workflows.Template{
		Name:         m.str("name"),
		Description:  m.str("description"),
		InstanceType: matching(d, m, "instance_type", instanceTypePattern, "an EC2 instance type like t3.small"),
		AMI:          matching(d, m, "ami", amiPattern, "an AMI ID like ami-0123456789abcdef0"),
		Region:       matching(d, m, "region", regionPattern, "an AWS region name like us-east-1"),
		Subnet:       matching(d, m, "subnet", subnetPattern, "a subnet ID like subnet-0123456789abcdef0"),
		KeyName:      m.str("key_pair"),
		RootVolumeGB: m.integer("root_volume_gb", 0),
		UserData:     m.str("user_data"),
		// Hardened by default: no public address unless asked for. IMDSv2
		// and an encrypted root volume are not options at all.
		PublicIP:        m.boolean("public_ip", false),
		InstanceProfile: matching(d, m, "instance_profile", profilePattern, "an IAM instance profile name or ARN like arn:aws:iam::123456789012:instance-profile/dev"),
	}
	t.Account = m.str("account")
	td := &templateDecl{
		t:            t,
		account:      place{m.at("account"), m.line("account")},
		at:           at(p, n),
		nameAt:       nameAt(d, m),
		region:       place{m.at("region"), m.line("region")},
		instanceType: place{m.at("instance_type"), m.line("instance_type")},
		tags:         place{m.at("tags"), m.line("tags")},
		userData:     place{m.at("user_data"), m.line("user_data")},
		subnet:       at(p, n),
	}
	if m.has("subnet") {
		td.subnet = place{m.at("subnet"), m.line("subnet")}
	}
	if m.has("root_volume_gb") && (t.RootVolumeGB < 1 || t.RootVolumeGB > MaxRootVolumeGB) {
		d.problemAt(m.at("root_volume_gb"), m.line("root_volume_gb"), "must be between 1 and %d GB (got %d)", MaxRootVolumeGB, t.RootVolumeGB)
	}
	sgs := m.list("security_groups")
	for _, it := range sgs {
		if !sgPattern.MatchString(it.s) {
			d.problem(it.path, it.n, "%q is not a security group ID like sg-0123456789abcdef0", it.s)
		}
	}
	t.SecurityGroups = values(sgs)
	t.Tags = decodeTags(d, m.at("tags"), m.get("tags"))
	if n := workflows.LaunchTagCount(t); n > workflows.MaxResourceTags {
		own := n - len(t.Tags)
		d.problemAt(m.at("tags"), m.line("tags"), "%d tags, with the %d opsbot adds to every server (opsbot:managed, Name and the rest) a launch would carry %d; EC2 allows %d on a resource: remove %d",
			len(t.Tags), own, n, workflows.MaxResourceTags, n-workflows.MaxResourceTags)
	}
	if len(t.UserData) > MaxUserData {
		d.problemAt(td.userData.path, td.userData.line, "is %d bytes; EC2 accepts at most %d", len(t.UserData), MaxUserData)
	}
	teams := m.list("teams")
	t.Teams = values(teams)
	for _, it := range teams {
		td.teams = append(td.teams, ref{it.s, at(it.path, it.n)})
	}
	if m.has("teams") && len(teams) == 0 {
		d.problemAt(m.at("teams"), m.line("teams"), `is empty: list the teams that may use it, or ["*"]`)
	}
	if m.has("lifecycle") {
		l := decodeLifecycle(d, m.at("lifecycle"), m.get("lifecycle"))
		t.Lifecycle = &l
	}
	return td
}

// matching reads an optional text field that must match re.
func matching(d *decoder, m *mapping, key string, re *regexp.Regexp, what string) string {
	n := m.scalar(key)
	if n == nil {
		return ""
	}
	if !re.MatchString(n.Value) {
		d.problem(m.at(key), n, "%q is not %s", n.Value, what)
		return "" // checks that need a valid value skip it
	}
	return n.Value
}

// decodeTags reads EC2 tags. Keys starting "aws:" are AWS's and keys
// starting "opsbot:" are opsbot's own (workflows.TagManaged and the
// rest), so neither may be set here.
func decodeTags(d *decoder, p string, n *yaml.Node) map[string]string {
	ps, _ := d.pairs(p, n)
	tags := map[string]string{}
	for _, kv := range ps {
		kp := field(p, kv.key)
		switch {
		case strings.HasPrefix(strings.ToLower(kv.key), "aws:"):
			d.problem(kp, kv.kn, "tag keys starting with aws: are reserved by AWS")
		case strings.HasPrefix(kv.key, "opsbot:"):
			d.problem(kp, kv.kn, "tag keys starting with opsbot: are set by opsbot itself")
		case kv.key == "" || utf8.RuneCountInString(kv.key) > 128:
			d.problem(kp, kv.kn, "a tag key must be 1 to 128 characters")
		}
		v := resolve(kv.v)
		switch {
		case isNull(v):
			tags[kv.key] = ""
		case v.Kind != yaml.ScalarNode:
			d.problem(kp, v, "a tag value must be a single value, not %s", kindName(v))
		case utf8.RuneCountInString(v.Value) > 256:
			d.problem(kp, v, "a tag value must be at most 256 characters")
		default:
			tags[kv.key] = v.Value
		}
	}
	return tags
}
