package slack

import "strings"

// Unformat turns text as Slack sends it back into what the person typed.
// Slack escapes &, < and > in the text of slash commands and messages
// (&amp;, &lt;, &gt;) and sends links, emails, people and channels as
// <…> references: <https://x.com|x.com>, <mailto:a@b.com|a@b.com>,
// <@U123|dana>, <#C123|ops>, <!here>. A reference becomes its label
// when it has one (the text the person typed), else its target; people,
// channels and broadcasts read @name, #name and @here, so nothing in
// the result pings anyone when shown again.
func Unformat(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		b.WriteString(unescapeEntities(s[:i]))
		b.WriteString(reference(s[i+1 : i+j]))
		s = s[i+j+1:]
	}
	b.WriteString(unescapeEntities(s))
	return b.String()
}

// reference reads the inside of one <…> reference.
func reference(ref string) string {
	target, label, hasLabel := strings.Cut(ref, "|")
	target, label = unescapeEntities(target), unescapeEntities(label)
	switch {
	case strings.HasPrefix(target, "@"):
		if hasLabel && label != "" {
			return "@" + strings.TrimPrefix(label, "@")
		}
		return target
	case strings.HasPrefix(target, "#"):
		if hasLabel && label != "" {
			return "#" + strings.TrimPrefix(label, "#")
		}
		return target
	case target == "!here" || target == "!channel" || target == "!everyone":
		// A broadcast reads @name whatever its label: Slack has sent
		// <!here|here> and <!channel|@channel> as well as <!here>.
		return "@" + target[1:]
	case strings.HasPrefix(target, "!"):
		if hasLabel && label != "" {
			return label // <!subteam^S1|@oncall>, <!date^…|fallback>
		}
		return "@" + strings.TrimPrefix(strings.SplitN(target, "^", 2)[0], "!")
	case hasLabel && label != "":
		return label
	}
	return strings.TrimPrefix(target, "mailto:")
}

var entities = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func unescapeEntities(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return entities.Replace(s)
}
