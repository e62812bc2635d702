package config

import (
	"strings"
	"testing"
)

// The review databases: an ID (dashes and capitals allowed) is taken as
// Notion's 32 hex digits; a URL or anything else is a problem at the
// key's path and line, and nothing else in the config is changed by it.
func TestParseReviewNotionDatabases(t *testing.T) {
	const id = "01234567-89AB-cdef-0123-456789abcdef"
	text := incBase + "  review: {notion_database: " + id + "}\n" +
		"costs:\n  cost_explorer: false\n  review: {channel: \"#cost-review\", notion_database: " + id + "}\n"
	cfg, err := Parse([]byte(text), "opsbot.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Catalog.Incidents.Review.NotionDatabase; got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("incidents.review.notion_database = %q", got)
	}
	if got := cfg.Costs.Review.NotionDatabase; got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("costs.review.notion_database = %q", got)
	}

	for name, c := range map[string]struct{ text, path, msg string }{
		"alert review URL": {incBase + "  review: {notion_database: \"https://www.notion.so/team/0123456789abcdef0123456789abcdef?v=1\"}\n",
			"incidents.review.notion_database", "give the database ID, not its URL"},
		"alert review short": {incBase + "  review: {notion_database: abc123}\n",
			"incidents.review.notion_database", `"abc123" is not a Notion database ID`},
		"cost review short": {incBase + "costs:\n  cost_explorer: false\n  review: {channel: \"#cost-review\", notion_database: nope}\n",
			"costs.review.notion_database", `"nope" is not a Notion database ID`},
		"cost review typo": {incBase + "costs:\n  cost_explorer: false\n  review: {channel: \"#cost-review\", notion_db: " + id + "}\n",
			"costs.review.notion_db", "notion_database"},
	} {
		_, err := Parse([]byte(c.text), "opsbot.yaml")
		ps, ok := err.(Problems)
		if !ok {
			t.Errorf("%s: %v, want problems", name, err)
			continue
		}
		found := false
		for _, p := range ps {
			found = found || p.Path == c.path && strings.Contains(p.String(), c.msg) && p.Line > 0
		}
		if !found {
			t.Errorf("%s: no problem at %s saying %q (with a line) in:\n%v", name, c.path, c.msg, err)
		}
	}
}
