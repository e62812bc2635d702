package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// amounts finds dollar figures in a text.
var amounts = regexp.MustCompile(`\$[0-9][0-9,]*\.[0-9]{2}`)

// TestCosts_NeverShowsATeamToOthers attacks /ops costs: another team's
// member naming it (in every case and with a month), a user absent from
// config naming a team or asking for all, a member asking for the whole
// bill. Each gets a refusal that carries no figure of anyone's, and the
// one absent from config does not learn which teams exist. Each refusal
// is a golden file.
func TestCosts_NeverShowsATeamToOthers(t *testing.T) {
	h, ce, _ := newCostsHarness(t)
	seedBill(ce)
	h.costsTick()
	got := map[string]json.RawMessage{}
	for _, tc := range []struct {
		name, user, text, want string
		golden                 string
	}{
		{"member of data names platform", analyst, "costs platform", "Team platform's costs are shown only to its members and approvers", "costs_refused_other_team"},
		{"member of data, another case and a month", analyst, "costs PLATFORM last", "Team platform's costs are shown only", ""},
		{"member of platform names data", dev, "costs data 2026-10", "Team data's costs are shown only", ""},
		{"absent from config, own team", stranger, "costs", "You are not in any team in opsbot's config", "costs_refused_not_in_config"},
		{"absent from config names a team", stranger, "costs platform", "You are not in any team in opsbot's config", ""},
		{"absent from config names a team that does not exist", stranger, "costs nosuchteam", "You are not in any team in opsbot's config", ""},
		{"absent from config asks for all", stranger, "costs all", "You are not in any team in opsbot's config", ""},
		{"member asks for all", dev, "costs all", "The whole bill is shown to opsbot's admins only", "costs_refused_all"},
		{"approver asks for all", lead, "costs all last", "The whole bill is shown to opsbot's admins only", ""},
		{"incident member only asks for platform", sre, "costs platform", "You are not in any team in opsbot's config", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.ops(tc.user, tc.text)
			text := h.lastResponse()
			if !strings.Contains(text, tc.want) {
				t.Fatalf("%s /ops %s: %s", tc.user, tc.text, text)
			}
			if a := amounts.FindString(text); a != "" {
				t.Errorf("the refusal carries a figure (%s): %s", a, text)
			}
			if tc.user == stranger && (strings.Contains(text, "platform") || strings.Contains(text, "data")) {
				t.Errorf("someone absent from config learns the teams: %s", text)
			}
			if tc.golden != "" {
				got[tc.golden] = h.lastReplyBlocks()
			}
		})
	}
	// The same people are answered where they may look: an approver of
	// both teams sees data's, an admin in no team sees platform's.
	h.ops(lead, "costs data")
	mustContain(t, "approver of data", h.lastResponse(), "Costs of data — November 2026")
	h.ops(admin, "costs platform")
	mustContain(t, "admin", h.lastResponse(), "Costs of platform — November 2026")
	// Budget alerts and the review's team parts go to the team's own
	// approvals channel only.
	for _, m := range h.channelMessages("data-approvals") {
		if strings.Contains(messageText(m), "platform") && strings.Contains(messageText(m), "budget") {
			t.Errorf("platform's budget in #data-approvals: %s", messageText(m))
		}
	}
	compareGolden(t, got)
}

// TestCosts_ExplorerRefusedFallsBackToTheLedger: Cost Explorer answers
// AccessDeniedException (IAM or not enabled). The review channel is told
// once, with the IAM action to grant, in which account; until a read
// works every figure is opsbot's own with a note saying so (the /ops
// costs answer, the review); once it works again the bill is back, and
// a later refusal is told again.
func TestCosts_ExplorerRefusedFallsBackToTheLedger(t *testing.T) {
	h, ce, _ := newCostsHarness(t)
	seedBill(ce)
	ce.Deny(true)
	got := map[string]json.RawMessage{}
	h.launched("test-small for 2d")
	h.costsTick()
	errs := topLevel(h.channelMessages("cost-review"))
	if len(errs) != 1 {
		t.Fatalf("%d messages in #cost-review, want the error once", len(errs))
	}
	mustContain(t, "error", messageText(errs[0]), "Cost Explorer: opsbot cannot read the bill", "access denied", "ce:GetCostAndUsage",
		"the account payer", "Billing console", "This is said once")
	got["costs_error_access_denied"] = errs[0].Blocks
	if n := len(ce.Calls()); n != 1 {
		t.Errorf("%d Cost Explorer calls for a refused read, want 1 (AccessDenied is not retried)", n)
	}
	h.ops(dev, "costs")
	mustContain(t, "fallback answer", h.lastResponse(), "Costs of platform — November 2026", "no Cost Explorer data yet",
		"committed and estimated are opsbot's own figures")
	got["costs_reply_no_data"] = h.lastReplyBlocks()
	// The next day: refused again, not told again.
	h.advanceTo(time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	if n := len(topLevel(h.channelMessages("cost-review"))); n != 1 {
		t.Fatalf("%d messages in #cost-review after a second refusal, want 1", n)
	}
	// The review on 1 December, still refused: the ledger, said so.
	h.advanceTo(time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC))
	h.costsTick()
	h.advance(time.Minute)
	review := lastIn(t, h.channelMessages("cost-review"), "Monthly cost review — November 2026")
	mustContain(t, "fallback review", messageText(review), "shows opsbot's own figures from its ledger, not the bill",
		"By team (opsbot's ledger)", "platform: $1.", "committed")
	got["costs_review_fallback"] = review.Blocks
	// Allowed again: the bill is back; refused later, told again.
	ce.Deny(false)
	h.advanceTo(time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	h.ops(dev, "costs last")
	mustContain(t, "bill back", h.lastResponse(), "Actual (Cost Explorer)", "$")
	ce.Deny(true)
	h.advanceTo(time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC))
	h.costsTick()
	if n := countIn(h.channelMessages("cost-review"), "opsbot cannot read the bill"); n != 2 {
		t.Errorf("%d error messages, want 2 (once, then again after a read that worked)", n)
	}
	compareGolden(t, got)
}
