package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opsbot/opsbot/config"
	slackout "github.com/opsbot/opsbot/integrations/slack"
)

// The Slack app manifest's shape (api.slack.com/reference/manifests), in
// the order Slack's own editor shows it.
type manifest struct {
	DisplayInformation manifestDisplay  `yaml:"display_information"`
	Features           manifestFeatures `yaml:"features"`
	OAuthConfig        manifestOAuth    `yaml:"oauth_config"`
	Settings           manifestSettings `yaml:"settings"`
}

type manifestDisplay struct {
	Name            string `yaml:"name"`
	Description     string `yaml:"description"`
	BackgroundColor string `yaml:"background_color"`
}

type manifestFeatures struct {
	AppHome       manifestAppHome   `yaml:"app_home"`
	BotUser       manifestBotUser   `yaml:"bot_user"`
	SlashCommands []manifestCommand `yaml:"slash_commands"`
}

type manifestAppHome struct {
	HomeTabEnabled             bool `yaml:"home_tab_enabled"`
	MessagesTabEnabled         bool `yaml:"messages_tab_enabled"`
	MessagesTabReadOnlyEnabled bool `yaml:"messages_tab_read_only_enabled"`
}

type manifestBotUser struct {
	DisplayName  string `yaml:"display_name"`
	AlwaysOnline bool   `yaml:"always_online"`
}

type manifestCommand struct {
	Command      string `yaml:"command"`
	URL          string `yaml:"url,omitempty"`
	Description  string `yaml:"description"`
	UsageHint    string `yaml:"usage_hint"`
	ShouldEscape bool   `yaml:"should_escape"`
}

type manifestOAuth struct {
	Scopes struct {
		Bot []string `yaml:"bot"`
	} `yaml:"scopes"`
}

type manifestSettings struct {
	EventSubscriptions   manifestEvents        `yaml:"event_subscriptions"`
	Interactivity        manifestInteractivity `yaml:"interactivity"`
	OrgDeployEnabled     bool                  `yaml:"org_deploy_enabled"`
	SocketModeEnabled    bool                  `yaml:"socket_mode_enabled"`
	TokenRotationEnabled bool                  `yaml:"token_rotation_enabled"`
}

type manifestEvents struct {
	RequestURL string   `yaml:"request_url,omitempty"`
	BotEvents  []string `yaml:"bot_events"`
}

type manifestInteractivity struct {
	IsEnabled  bool   `yaml:"is_enabled"`
	RequestURL string `yaml:"request_url,omitempty"`
}

// botEvents are the events bot.Bot handles, with the scope each needs
// beyond what the Web API calls already ask for.
var botEvents = map[string]string{
	"app_home_opened":  "",                 // the Home tab
	"message.channels": "channels:history", // timeline notes in incident channels
	"reaction_added":   "reactions:read",   // a reaction adds a message to the timeline
	"user_change":      "users:read",       // a deactivated account is offboarded
}

// commandScopes are needed for slash commands to exist at all.
var commandScopes = []string{"commands"}

// slashCommands are CONTRACT.md's commands; usage hints show in Slack's
// autocomplete.
var slashCommands = []manifestCommand{
	{
		Command:     "/ops",
		Description: "Servers, leases and budgets",
		UsageHint:   "server request TEMPLATE [for DURATION] [REASON] | servers | lease extend SERVER DURATION | lease release SERVER | server SERVER | budget [TEAM] | approvals | audit [SUBJECT] [SINCE] | offboard @user | help",
	},
	{
		Command:     "/incident",
		Description: "Declare and run an incident",
		UsageHint:   "declare TITLE [sev1|sev2|sev3] | status investigating|identified|monitoring|resolved | severity sevN | role commander|comms|scribe @user | update TEXT | postmortem | help",
		// Escaped, Slack sends "@user" as <@U123|name>, which is how
		// `/incident role` knows who is meant.
		ShouldEscape: true,
	},
}

// writeManifest prints the Slack app manifest for this opsbot: paste it
// into "Create an app → From a manifest". With socketMode the request
// URLs are left out (Slack delivers over the WebSocket); otherwise they
// point at publicURL, the address Slack reaches opsbot's HTTP server at.
// The bot scopes are exactly those the code uses: the Web API methods
// the Slack client calls (slackout.RequiredScopes), slash commands, and
// the events the bot handles.
func writeManifest(out io.Writer, cfg *config.Config, publicURL string, socketMode bool) error {
	publicURL = strings.TrimSuffix(publicURL, "/")
	if !socketMode && !strings.HasPrefix(publicURL, "https://") {
		return fmt.Errorf("manifest: Slack needs an https:// public URL for opsbot's HTTP routes (got %q), or use Socket Mode", publicURL)
	}
	route := func(path string) string {
		if socketMode {
			return ""
		}
		return publicURL + path
	}
	m := manifest{
		DisplayInformation: manifestDisplay{
			Name:            "opsbot",
			Description:     "Self-service servers with leases and budgets, and incidents that run themselves.",
			BackgroundColor: "#1d3557",
		},
		Features: manifestFeatures{
			AppHome: manifestAppHome{HomeTabEnabled: true, MessagesTabEnabled: true, MessagesTabReadOnlyEnabled: true},
			BotUser: manifestBotUser{DisplayName: "opsbot", AlwaysOnline: true},
		},
		Settings: manifestSettings{
			EventSubscriptions: manifestEvents{RequestURL: route("/slack/events")},
			Interactivity:      manifestInteractivity{IsEnabled: true, RequestURL: route("/slack/interactions")},
			SocketModeEnabled:  socketMode,
		},
	}
	if cfg != nil && cfg.Catalog != nil && cfg.Catalog.Incidents == nil {
		m.DisplayInformation.Description = "Self-service servers with leases and budgets."
	}
	for _, c := range slashCommands {
		c.URL = route("/slack/commands")
		m.Features.SlashCommands = append(m.Features.SlashCommands, c)
	}
	for ev := range botEvents {
		m.Settings.EventSubscriptions.BotEvents = append(m.Settings.EventSubscriptions.BotEvents, ev)
	}
	slices.Sort(m.Settings.EventSubscriptions.BotEvents)
	m.OAuthConfig.Scopes.Bot = manifestScopes()

	fmt.Fprintln(out, "# Slack app manifest for opsbot: api.slack.com/apps → Create New App → From a manifest.")
	if socketMode {
		fmt.Fprintln(out, "# Socket Mode: also create an app-level token with connections:write and set SLACK_APP_TOKEN.")
	}
	enc := yaml.NewEncoder(out)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return enc.Close()
}

// manifestScopes are the manifest's bot scopes, sorted: the Web API
// methods' (slackout.RequiredScopes), slash commands', and the events'.
// `opsbot doctor` checks the token has every one.
func manifestScopes() []string {
	scopes := append(slackout.RequiredScopes(), commandScopes...)
	for _, scope := range botEvents {
		if scope != "" {
			scopes = append(scopes, scope)
		}
	}
	slices.Sort(scopes)
	return slices.Compact(scopes)
}
