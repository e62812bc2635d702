package slackfake

import (
	"regexp"
	"strings"
)

// Typed returns text as a person typed it, the way Slack sends it in a
// slash command's text when the command sets should_escape (opsbot's
// manifest does): &, < and > as &amp;, &lt; and &gt;; an email as
// <mailto:a@b|a@b>; a URL as <https://…>, a bare domain as
// <http://d|d>; @name of a user as <@U…|name>; #name of a channel as
// <#C…|name>. Slack's formatting reference ("Escaping text", and the
// slash command's "Escape channels, users, and links" option) describes
// it; SlashCommand itself sends its text as given.
func (s *Server) Typed(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, w := range strings.Split(text, " ") {
		out = append(out, s.typedWord(w))
	}
	return strings.Join(out, " ")
}

var (
	typedEmail  = regexp.MustCompile(`^[^@\s<>&]+@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+$`)
	typedURL    = regexp.MustCompile(`^https?://[^\s<>]+$`)
	typedDomain = regexp.MustCompile(`^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}$`)
)

// typedWord formats one word. Caller holds mu.
func (s *Server) typedWord(w string) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
	switch {
	case typedEmail.MatchString(w):
		return "<mailto:" + esc(w) + "|" + esc(w) + ">"
	case typedURL.MatchString(w):
		return "<" + esc(w) + ">"
	case typedDomain.MatchString(w):
		return "<http://" + w + "|" + w + ">"
	case strings.HasPrefix(w, "@"):
		for _, u := range s.users {
			if u.Name == w[1:] {
				return "<@" + u.ID + "|" + u.Name + ">"
			}
		}
	case strings.HasPrefix(w, "#"):
		if c := s.lookupChannel(w); c != nil && !c.IsIM {
			return "<#" + c.ID + "|" + c.Name + ">"
		}
	}
	return esc(w)
}
