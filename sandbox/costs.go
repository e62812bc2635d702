package sandbox

import (
	"hash/fnv"
	"math"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/cefake"
	"github.com/opsbot/opsbot/integrations/aws/stsfake"
)

// The sample AWS accounts, as sandbox.yaml's accounts: names them.
// production is the payer (management) account Cost Explorer is read in.
var Accounts = []struct{ Name, ID, RoleARN, ExternalID string }{
	{"production", "210987654321", "", ""},
	{"staging", "321098765432", "arn:aws:iam::321098765432:role/opsbot", "opsbot-sandbox"},
	{"sandbox", "432109876543", "arn:aws:iam::432109876543:role/opsbot", ""},
}

// Cost Explorer's names of the services the sample bill holds.
const (
	svcEC2        = "Amazon Elastic Compute Cloud - Compute"
	svcEC2Other   = "EC2 - Other"
	svcRDS        = "Amazon Relational Database Service"
	svcS3         = "Amazon Simple Storage Service"
	svcCloudFront = "Amazon CloudFront"
	svcLambda     = "AWS Lambda"
	svcDynamoDB   = "Amazon DynamoDB"
	svcCache      = "Amazon ElastiCache"
	svcCloudWatch = "AmazonCloudWatch"
	svcTransfer   = "AWS Data Transfer"
	svcEKS        = "Amazon Elastic Container Service for Kubernetes"
	svcSQS        = "Amazon Simple Queue Service"
	svcRoute53    = "Amazon Route 53"
)

// spendLine is one steady source of spend: a service in an account, for
// a team (the team tag; "" untagged) and project, at about perDay
// dollars, moving month over month along its own slow wave.
type spendLine struct {
	account, service, team, project string
	perDay                          float64
	opsbot                          bool // one of opsbot's servers (tags opsbot:team, opsbot:managed)
	weekdays                        bool // less at weekends (staging, build machines)
}

// sampleSpend is a mid-size company's bill: about $6,000 a month over
// three accounts and thirteen services, most of it the platform team's
// production, the data team's pipeline and experiments, and some
// untagged.
var sampleSpend = []spendLine{
	{account: "210987654321", service: svcEC2, team: "platform", project: "checkout", perDay: 41},
	{account: "210987654321", service: svcEC2, team: "data", project: "pipeline", perDay: 9},
	{account: "210987654321", service: svcEC2Other, team: "platform", project: "checkout", perDay: 7},
	{account: "210987654321", service: svcRDS, team: "platform", project: "checkout", perDay: 24},
	{account: "210987654321", service: svcRDS, team: "data", project: "pipeline", perDay: 6},
	{account: "210987654321", service: svcS3, team: "data", project: "pipeline", perDay: 8},
	{account: "210987654321", service: svcS3, team: "platform", project: "checkout", perDay: 2.5},
	{account: "210987654321", service: svcCloudFront, team: "platform", project: "checkout", perDay: 13},
	{account: "210987654321", service: svcLambda, team: "data", project: "pipeline", perDay: 2.8},
	{account: "210987654321", service: svcDynamoDB, team: "platform", project: "checkout", perDay: 5.5},
	{account: "210987654321", service: svcCache, team: "platform", project: "checkout", perDay: 7.8},
	{account: "210987654321", service: svcCloudWatch, perDay: 3.9},
	{account: "210987654321", service: svcTransfer, perDay: 6.5},
	{account: "210987654321", service: svcEKS, team: "platform", project: "checkout", perDay: 4.9},
	{account: "210987654321", service: svcSQS, team: "data", project: "pipeline", perDay: 1.1},
	{account: "210987654321", service: svcRoute53, perDay: 0.7},
	{account: "321098765432", service: svcEC2, team: "platform", project: "checkout", perDay: 11, weekdays: true},
	{account: "321098765432", service: svcRDS, team: "platform", project: "checkout", perDay: 5.2},
	{account: "321098765432", service: svcEKS, team: "platform", project: "checkout", perDay: 2.4},
	{account: "321098765432", service: svcS3, team: "data", project: "pipeline", perDay: 1.6},
	{account: "321098765432", service: svcCloudWatch, perDay: 1.2},
	{account: "321098765432", service: svcTransfer, perDay: 0.9},
	{account: "432109876543", service: svcEC2, team: "data", project: "ml", perDay: 14, weekdays: true},
	{account: "432109876543", service: svcEC2, team: "platform", project: "checkout", perDay: 3.2, opsbot: true, weekdays: true},
	{account: "432109876543", service: svcEC2, team: "data", project: "ml", perDay: 5.5, opsbot: true, weekdays: true},
	{account: "432109876543", service: svcEC2Other, team: "platform", project: "checkout", perDay: 0.6, opsbot: true},
	{account: "432109876543", service: svcEC2Other, team: "data", project: "ml", perDay: 0.9, opsbot: true},
	{account: "432109876543", service: svcS3, team: "data", project: "ml", perDay: 2.1},
	{account: "432109876543", service: svcLambda, perDay: 0.3},
	{account: "432109876543", service: svcSQS, perDay: 0.15},
}

// wave is how far a service's spend is from its usual level in a month:
// each service rises and falls on its own period and phase, so every
// month has services that went up and others that went down (the
// review's top movers).
var wave = map[string]struct{ amp, period, phase float64 }{
	svcEC2:        {0.10, 7, 0.0},
	svcEC2Other:   {0.08, 5, 1.0},
	svcRDS:        {0.18, 9, 2.0},
	svcS3:         {0.12, 8, 0.5},
	svcCloudFront: {0.35, 4, 1.5},
	svcLambda:     {0.30, 6, 3.0},
	svcDynamoDB:   {0.20, 5, 2.5},
	svcCache:      {0.06, 7, 4.0},
	svcCloudWatch: {0.10, 6, 1.2},
	svcTransfer:   {0.25, 4, 1.7},
	svcEKS:        {0.28, 8, 5.0},
	svcSQS:        {0.15, 5, 0.3},
	svcRoute53:    {0.02, 6, 0.0},
}

// SpendOn is the sample bill of one UTC day: the same for a day whoever
// asks and whenever (a function of the date only), so a sandbox started
// again, on any day, tells the same history. Servers opsbot launched
// before the sandbox started (days before opsbotUntil) are part of it.
func SpendOn(day time.Time, opsbotUntil time.Time) []cefake.Record {
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	month := float64(day.Year()*12 + int(day.Month()))
	weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
	var out []cefake.Record
	for _, l := range sampleSpend {
		if l.opsbot && !day.Before(opsbotUntil) {
			continue
		}
		w := wave[l.service]
		v := l.perDay * (1 + w.amp*math.Sin(2*math.Pi*month/w.period+w.phase))
		if l.weekdays && weekend {
			v *= 0.45
		}
		v *= 0.94 + 0.12*jitter(day.Format("2006-01-02"), l.account, l.service, l.team, l.project)
		tags := map[string]string{}
		if l.team != "" {
			tags["team"] = l.team
		}
		if l.project != "" {
			tags["project"] = l.project
		}
		if l.opsbot {
			tags["opsbot:team"] = l.team
			tags["opsbot:managed"] = "true"
		}
		out = append(out, cefake.Record{Day: day.Format("2006-01-02"), Account: l.account, Service: l.service, Tags: tags,
			Unblended: math.Round(v*1e4) / 1e4})
	}
	return out
}

// jitter is a number in [0, 1) fixed by its inputs.
func jitter(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return float64(h.Sum64()%10000) / 10000
}

// seedCosts makes the fake Cost Explorer answer with the sample bill,
// for any day asked (so however far the clock is moved the bill goes
// on), names the accounts as AWS Organizations would, and lets opsbot
// assume the accounts' roles in the fake STS. opsbot's own servers are
// on the bill until the day the sandbox started.
func seedCosts(ce *cefake.Server, sts *stsfake.Server, now time.Time) {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	ce.SetSource(func(day time.Time) []cefake.Record { return SpendOn(day, today) })
	for _, a := range Accounts {
		ce.NameAccount(a.ID, "Example Corp "+a.Name)
		if a.RoleARN != "" {
			sts.AddRole(stsfake.Role{ARN: a.RoleARN, ExternalID: a.ExternalID, Account: a.ID})
		}
	}
}
