package slack

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/workflows"
)

// An endpoint's answer is shown literally in a preformatted rich-text
// block: no mention, broadcast or formatting in it takes effect.
func TestRenderCodeIsLiteral(t *testing.T) {
	m := workflows.Message{Title: "restart-service answered: HTTP 500", Code: "<!channel> *boom* <@U123>\n" + strings.Repeat("x", 4000)}
	r := Renderer{}.Message(m)
	golden(t, "message_code", r.Blocks[1])
	raw, _ := json.Marshal(r.Blocks[1])
	if !strings.Contains(string(raw), `"type":"rich_text_preformatted"`) || !strings.Contains(string(raw), `"text":"\u003c!channel\u003e *boom* \u003c@U123\u003e`) {
		t.Fatalf("code block: %s", raw)
	}
	if len(raw) > maxCode+400 {
		t.Fatalf("code block not cut: %d bytes", len(raw))
	}
}
