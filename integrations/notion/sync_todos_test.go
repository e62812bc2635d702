package notion_test

import (
	"context"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/integrations/notion"
	"github.com/opsbot/opsbot/integrations/notion/notionfake"
	"github.com/opsbot/opsbot/workflows"
)

// withActions is doc with the tracked action items' to-dos at its end, as
// workflows renders them.
func withActions(doc workflows.Postmortem, todos ...string) workflows.Postmortem {
	doc.Body = append(append([]workflows.DocBlock{}, doc.Body...), workflows.DocBlock{Kind: workflows.DocHeading2, Text: "Action items tracked by opsbot"})
	for _, td := range todos {
		doc.Body = append(doc.Body, workflows.DocBlock{Kind: workflows.DocTodo, Text: td})
	}
	return doc
}

func countTodos(fake *notionfake.Server, pageID, prefix string) int {
	n := 0
	for _, b := range fake.Blocks(pageID) {
		if b.Type == "to_do" && strings.HasPrefix(b.Text, prefix) {
			n++
		}
	}
	return n
}

// The sync job is the one writer of a post-mortem kept in step: when
// people have edited its body (which is then not rewritten), a new
// action item's to-do is still appended, once, even when Notion's answer
// to the append is lost.
func TestUpdatePostmortem_EditedBodyGetsNewActionItemsOnce(t *testing.T) {
	r := newRig(t, notion.Options{})
	doc := postmortem("inc-7")
	ref, err := r.c.WritePostmortem(context.Background(), doc)
	if err != nil {
		t.Fatal(err)
	}
	first := r.fake.Blocks(ref.PageID)[1]
	if !r.fake.EditBlock(first.ID, "Payments failed for 80 minutes; the analysis is below.", nil) {
		t.Fatal("no block to edit")
	}
	withOne := withActions(doc, "act-1 · Add a latency alert · owner ada@example.com")
	r.fake.FailNext(notionfake.Fault{Match: "PATCH /v1/blocks/", Status: 504, AfterApply: true})
	if err := r.c.UpdatePostmortem(context.Background(), ref, withOne); err != nil {
		t.Fatal(err)
	}
	withTwo := withActions(doc, "act-1 · Add a latency alert · owner ada@example.com", "act-2 · Page the owner of the cache")
	for range 2 {
		if err := r.c.UpdatePostmortem(context.Background(), ref, withTwo); err != nil {
			t.Fatal(err)
		}
	}
	if n1, n2 := countTodos(r.fake, ref.PageID, "act-1 · "), countTodos(r.fake, ref.PageID, "act-2 · "); n1 != 1 || n2 != 1 {
		t.Fatalf("to-dos on the edited page: act-1 ×%d, act-2 ×%d; want one each", n1, n2)
	}
	if got := r.fake.Blocks(ref.PageID)[1].Text; !strings.Contains(got, "analysis is below") {
		t.Errorf("the people's edit was overwritten: %q", got)
	}
	if n := len(r.fake.Blocks(ref.PageID)); n != len(doc.Body)+2 {
		t.Errorf("%d blocks, want the body (%d) and the two to-dos", n, len(doc.Body))
	}
}
