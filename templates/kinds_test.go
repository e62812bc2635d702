package templates_test

import (
	"testing"

	"github.com/opsbot/opsbot/templates"
	"github.com/opsbot/opsbot/workflows"
)

// TestKinds_MatchWorkflows keeps the Kind strings equal to
// workflows.DocBlockKind, since callers convert one to the other.
func TestKinds_MatchWorkflows(t *testing.T) {
	pairs := map[string]workflows.DocBlockKind{
		templates.KindHeading1:  workflows.DocHeading1,
		templates.KindHeading2:  workflows.DocHeading2,
		templates.KindHeading3:  workflows.DocHeading3,
		templates.KindParagraph: workflows.DocParagraph,
		templates.KindBullet:    workflows.DocBullet,
		templates.KindNumbered:  workflows.DocNumbered,
		templates.KindTodo:      workflows.DocTodo,
		templates.KindQuote:     workflows.DocQuote,
		templates.KindDivider:   workflows.DocDivider,
	}
	for k, w := range pairs {
		if k != string(w) {
			t.Errorf("kind %q != workflows %q", k, w)
		}
	}
}
