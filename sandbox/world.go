package sandbox

import (
	"context"
	"fmt"
	"strings"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/pagerduty/pdfake"
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// Person is someone in the sample setup, with the same email in Slack,
// PagerDuty and the config.
type Person struct {
	Slack, PagerDuty, Handle, Name, Email, Role string
}

// People are the sample setup's people, in the order the page lists them.
var People = []Person{
	{"U0DANA001", "PDANA01", "dana", "Dana Developer", "dana@example.com", "developer, platform"},
	{"U0SAM0001", "PSAM001", "sam", "Sam Scientist", "sam@example.com", "developer, data"},
	{"U0AVERY01", "PAVERY1", "avery", "Avery Approver", "avery@example.com", "approver, platform and data"},
	{"U0OMAR001", "POMAR01", "omar", "Omar On-call", "omar@example.com", "on call, platform"},
}

// Slack IDs of the sample people, for tests.
const (
	Dana  = "U0DANA001"
	Sam   = "U0SAM0001"
	Avery = "U0AVERY01"
	Omar  = "U0OMAR001"
)

// Channels are the sample workspace's channels.
var Channels = []string{"general", "platform-approvals", "data-approvals", "incidents", "cost-review"}

// Services are the sample PagerDuty services; their IDs are in
// sandbox.yaml's teams.
var Services = []pdfake.Service{
	{ID: "PCHKOUT1", Name: "Checkout API", EscalationPolicyID: "PPLATEP1"},
	{ID: "PPIPELN1", Name: "Data pipeline", EscalationPolicyID: "PPLATEP1"},
}

// PostmortemDB is the ID the fake Notion gives its first database, the
// one sandbox.yaml names in incidents.notion_database.
const PostmortemDB = "682c1defff6b4190899dd31e5596d53a"

// AlertReviewDB and CostReviewDB are the IDs of the fake Notion's second
// and third databases, the review databases sandbox.yaml names in
// incidents.review and costs.review.
const (
	AlertReviewDB = "682c1deffe6b4190899dd31e5596d3ff"
	CostReviewDB  = "682c1deffd6b4190899dd31e5596d2c4"
)

// populate restores each fake from the last run or seeds it with the
// sample setup; a fake that cannot be restored after a restart is seeded
// afresh and a note says so.
func (s *Sandbox) populate(ctx context.Context, fresh bool) error {
	seed := map[string]func() error{
		"slack": s.seedSlack, "ec2": s.seedEC2, "pagerduty": s.seedPagerDuty, "notion": s.seedNotion,
	}
	var lost []string
	for _, name := range []string{"slack", "ec2", "pagerduty", "notion"} {
		if !fresh {
			ok, err := s.restore(ctx, name)
			if err != nil {
				return err
			}
			if ok {
				continue
			}
			lost = append(lost, name)
		}
		if err := seed[name](); err != nil {
			return fmt.Errorf("seed fake %s: %w", name, err)
		}
	}
	if len(lost) > 0 {
		s.notes = append(s.notes, fmt.Sprintf("Restarted on %s: opsbot kept its servers, leases and incidents, but the saved "+
			"state of the fake %s could not be read back, so it started again from the sample setup and what it held is gone. "+
			"Run `opsbot sandbox --reset` for a clean start.", s.opts.DB, strings.Join(lost, ", ")))
	}
	return nil
}

func (s *Sandbox) seedSlack() error {
	var ids []string
	for _, p := range People {
		s.slack.AddUser(slackfake.User{ID: p.Slack, Name: p.Handle, RealName: p.Name, Email: p.Email, TZ: "Europe/Berlin"})
		ids = append(ids, p.Slack)
	}
	s.seedLeaverSlack()
	ids = append(ids, Leaver.Slack, s.slack.BotUserID())
	for _, name := range Channels {
		s.slack.AddChannel(slackfake.Channel{Name: name, Members: ids, Creator: Avery})
	}
	return nil
}

// prices are the on-demand prices the fake Price List API answers with
// (the same as the config's fallback table).
var prices = map[string]float64{"t3.small": 0.0208, "m6i.large": 0.096, "c6i.2xlarge": 0.34, "g5.xlarge": 1.006}

func (s *Sandbox) seedEC2() error {
	for typ, usd := range prices {
		s.ec2.SetPrice("us-east-1", typ, usd)
	}
	s.seedLeaverKeys()
	return nil
}

func (s *Sandbox) seedPagerDuty() error {
	for _, p := range People {
		s.pd.AddUser(pdfake.User{ID: p.PagerDuty, Name: p.Name, Email: p.Email})
	}
	s.pd.AddEscalationPolicy(pdfake.EscalationPolicy{ID: "PPLATEP1", Name: "Platform on-call",
		Levels: [][]string{{"POMAR01"}, {"PAVERY1"}}})
	for _, svc := range Services {
		s.pd.AddService(svc)
	}
	return seedAlertHistory(s.pd, s.clock.Now())
}

func (s *Sandbox) seedNotion() error {
	db, err := s.notion.AddDatabase("Post-mortems", notion.DefaultProps.Schema())
	if err != nil {
		return err
	}
	if got := strings.ReplaceAll(db.ID, "-", ""); got != PostmortemDB {
		return fmt.Errorf("the post-mortem database got ID %s, but sandbox.yaml names %s", got, PostmortemDB)
	}
	for _, r := range []struct{ title, id string }{{"Alert reviews", AlertReviewDB}, {"Cost reviews", CostReviewDB}} {
		db, err := s.notion.AddDatabase(r.title, notion.ReviewSchema())
		if err != nil {
			return err
		}
		if got := strings.ReplaceAll(db.ID, "-", ""); got != r.id {
			return fmt.Errorf("the %s database got ID %s, but sandbox.yaml names %s", r.title, got, r.id)
		}
	}
	return nil
}

// personBySlack finds a sample person by Slack user ID.
func personBySlack(id string) (Person, bool) {
	for _, p := range People {
		if p.Slack == id {
			return p, true
		}
	}
	return Person{}, false
}
