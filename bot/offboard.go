package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	slackout "github.com/opsbot/opsbot/integrations/slack"
	"github.com/opsbot/opsbot/workflows"
)

// UsageOffboard is the usage line of /ops offboard.
const UsageOffboard = "/ops offboard EMAIL|@user"

// OpsOffboard hands over what someone who left held.
const OpsOffboard OpsKind = "offboard"

// memberID is a Slack member ID as typed.
var memberID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// parseOffboard reads the person: a mention (<@U…>, as Slack sends it
// when escaping is on), a Slack member ID, or an email.
func parseOffboard(words []string) (OpsCommand, error) {
	if len(words) == 1 {
		w := words[0]
		if r, ok := invisible(w); ok {
			return OpsCommand{}, usageErr(UsageOffboard, "%q holds an invisible character (U+%04X), likely copied with it: type it again, or pick them from Slack's list. Nobody was offboarded.", w, r)
		}
		switch {
		case userMention.MatchString(w):
			return OpsCommand{Kind: OpsOffboard, Rest: userMention.FindStringSubmatch(w)[1]}, nil
		case memberID.MatchString(w), strings.Count(w, "@") == 1 && !strings.HasPrefix(w, "@"):
			return OpsCommand{Kind: OpsOffboard, Rest: w}, nil
		}
	}
	return OpsCommand{}, usageErr(UsageOffboard, "Name one person by email or Slack member ID (`/ops offboard dana@example.com`), or pick them from Slack's list.")
}

// userIDs finds a Slack user by email (users.lookupByEmail); the Slack
// client's Directory does.
type userIDs interface {
	UserID(ctx context.Context, email string) (string, error)
}

// offboardCommand is `/ops offboard @user`, for opsbot's admins.
func (b *Bot) offboardCommand(ctx context.Context, actor workflows.Person, userID string) workflows.Reply {
	if b.Offboard == nil {
		return textReply("Offboarding is not set up in this opsbot.")
	}
	if !b.Servers.Catalog.IsAdmin(actor) {
		e := workflows.Errorf(workflows.EForbidden, "Only opsbot's admins offboard people (deactivating them in Slack does it too). Ask one of them:")
		e.People = b.Servers.Catalog.Admins
		return b.failure(e, UsageOffboard)
	}
	who := workflows.Person{Email: userID}
	nobody := false // no Slack user has the email
	if !strings.Contains(userID, "@") {
		who = b.person(ctx, userID)
	} else if ids, ok := b.Directory.(userIDs); ok {
		// The config may name them by Slack ID (approvers: [U0LEAD]):
		// an email alone would miss their teams and roles.
		if id, err := ids.UserID(ctx, userID); err == nil {
			who.SlackID = id
		} else {
			b.Log.WarnContext(ctx, "look up the Slack user of an email", "email", userID, "err", err)
			code := slackout.SlackError(err)
			nobody = code == "users_not_found" || code == "user_not_found"
		}
	}
	rep, err := b.Offboard.Offboard(ctx, actor, who)
	if err != nil {
		return b.failure(err, UsageOffboard)
	}
	if rep.Already {
		return textReply(fmt.Sprintf("%s was offboarded already; nothing was done again. The report is in their teams' approvals channels and the audit log.", workflows.Mention(who.Ref())))
	}
	rerouted := 0
	for _, rr := range rep.ReRouted {
		rerouted += len(rr)
	}
	keys := ""
	if b.Offboard.Keys != nil {
		keys = " Their EC2 key pairs are being looked up; they will be listed in the report's thread."
	}
	if _, inTeam := b.Servers.Catalog.TeamOf(who); nobody && !inTeam && !b.Servers.Catalog.IsAdmin(who) &&
		len(rep.Servers)+len(rep.Withdrawn)+rerouted+len(rep.Roles) == 0 {
		// Most likely a typo: say so rather than report a success.
		keys += fmt.Sprintf(" No one in this Slack or in opsbot's config has the email %s, and it held nothing here: if it was mistyped, offboard the right one.", userID)
	}
	return textReply(fmt.Sprintf("%s is offboarded: %d server(s) handed to their team, %d request(s) withdrawn, %d approval(s) asked of the other approvers, %d incident role(s) vacated. The report is in %s's approvals channel.%s",
		workflows.Mention(who.Ref()), len(rep.Servers), len(rep.Withdrawn), rerouted, len(rep.Roles), joinTeams(rep.Teams), keys))
}

// keyClick is the "Delete key pair" button of an offboarding report.
func (b *Bot) keyClick(ctx context.Context, actor workflows.Person, value string) workflows.Reply {
	if b.Offboard == nil {
		return textReply("Offboarding is not set up in this opsbot.")
	}
	k, err := b.Offboard.DeleteKey(ctx, actor, value)
	if err != nil {
		return b.failure(err, UsageOffboard)
	}
	return textReply(fmt.Sprintf("Key pair %s (%s) is being deleted; the report's thread shows when it is done.", k.Name, k.KeyPairID))
}

func joinTeams(ts []string) string {
	switch len(ts) {
	case 0:
		return "no team"
	case 1:
		return "team " + ts[0]
	}
	return fmt.Sprintf("each of %d teams", len(ts))
}

// userChanged offboards a person whose Slack account was deactivated
// (user_change with "deleted": true). Other profile changes are ignored.
func (b *Bot) userChanged(ctx context.Context, raw json.RawMessage) error {
	var ev struct {
		User struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
			IsBot   bool   `json:"is_bot"`
			Profile struct {
				Email string `json:"email"`
			} `json:"profile"`
		} `json:"user"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil || !ev.User.Deleted || ev.User.IsBot || ev.User.ID == "" || b.Offboard == nil {
		return nil
	}
	_, err := b.Offboard.Offboard(ctx, workflows.Person{}, workflows.Person{SlackID: ev.User.ID, Email: ev.User.Profile.Email})
	return err
}

// invisible finds a character a person cannot see in what they typed: a
// control or format character (a zero-width space, a direction mark),
// usually pasted along with an email or a name.
func invisible(s string) (rune, bool) {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return r, true
		}
	}
	return 0, false
}
