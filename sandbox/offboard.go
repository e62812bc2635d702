package sandbox

import (
	"github.com/opsbot/opsbot/integrations/slack/slackfake"
)

// Leaver is a departed-looking person of the sample setup: a platform
// member in sandbox.yaml and in Slack (not on the page's list of people
// to act as), with EC2 key pairs of their own, so `/ops offboard
// lee@example.com` (as Avery) shows the whole hand-over: their servers
// (have Lee ask for one first through the API, or offboard Dana), their
// key pairs with Delete key pair.
var Leaver = Person{Slack: "U0LEE0001", Handle: "lee", Name: "Lee Leaver", Email: "lee@example.com", Role: "left, platform"}

// Lee is the Slack ID of the departed-looking person.
const Lee = "U0LEE0001"

func (s *Sandbox) seedLeaverSlack() {
	s.slack.AddUser(slackfake.User{ID: Leaver.Slack, Name: Leaver.Handle, RealName: Leaver.Name, Email: Leaver.Email, TZ: "Europe/Berlin"})
}

// seedLeaverKeys gives Lee a key pair tagged with their email and one
// named after them, and gives the team a shared one that is nobody's.
func (s *Sandbox) seedLeaverKeys() {
	s.ec2.AddKeyPair("us-east-1", "lee-laptop", map[string]string{"Owner": Leaver.Email})
	s.ec2.AddKeyPair("us-east-1", "lee", nil)
	s.ec2.AddKeyPair("us-east-1", "platform-ci", map[string]string{"Owner": "platform@example.com"})
}
