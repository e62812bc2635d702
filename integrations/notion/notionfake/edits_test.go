package notionfake_test

import (
	"testing"
)

// Notion's DELETE /v1/blocks/{id} moves a block to the trash: the answer
// is the block with archived and in_trash true, it leaves its parent's
// children, and it cannot be retrieved or deleted again (404
// object_not_found). Who last edited a block is reported on it.
func TestBlocks_RetrieveDeleteAndWhoEdited(t *testing.T) {
	e := setup(t)
	page := e.newPage(t, "inc-1")
	status, out := e.raw(t, "PATCH", "/v1/blocks/"+page+"/children", map[string]any{"children": []any{para("keep"), para("drop")}}, nil)
	if status != 200 {
		t.Fatalf("append: %d %v", status, out)
	}
	results := out["results"].([]any)
	keep, drop := results[0].(map[string]any)["id"].(string), results[1].(map[string]any)["id"].(string)

	status, out = e.raw(t, "GET", "/v1/blocks/"+drop, nil, nil)
	if status != 200 || out["object"] != "block" || out["id"] != drop || out["type"] != "paragraph" {
		t.Fatalf("retrieve: %d %v", status, out)
	}
	status, out = e.raw(t, "DELETE", "/v1/blocks/"+drop, nil, nil)
	if status != 200 || out["archived"] != true || out["in_trash"] != true || out["id"] != drop {
		t.Fatalf("delete: %d %v", status, out)
	}
	status, out = e.raw(t, "GET", "/v1/blocks/"+page+"/children", nil, nil)
	if status != 200 || len(out["results"].([]any)) != 1 {
		t.Fatalf("children after delete: %d %v", status, out)
	}
	status, out = e.raw(t, "GET", "/v1/blocks/"+drop, nil, nil)
	wantError(t, status, out, 404, "object_not_found", "Could not find block")
	status, out = e.raw(t, "DELETE", "/v1/blocks/"+drop, nil, nil)
	wantError(t, status, out, 404, "object_not_found", "Could not find block")

	_, out = e.raw(t, "GET", "/v1/blocks/"+keep, nil, nil)
	bot := out["created_by"].(map[string]any)["id"]
	if out["last_edited_by"].(map[string]any)["id"] != bot {
		t.Fatalf("a block only the integration wrote: %v", out)
	}
	if !e.fake.EditBlock(keep, "kept, and edited by a person", nil) {
		t.Fatal("EditBlock found no block")
	}
	_, out = e.raw(t, "GET", "/v1/blocks/"+keep, nil, nil)
	if editor := out["last_edited_by"].(map[string]any)["id"]; editor == bot || out["created_by"].(map[string]any)["id"] != bot {
		t.Errorf("after a person's edit: created_by %v, last_edited_by %v", out["created_by"], editor)
	}
}

// A restored sandbox keeps who edited a block and does not bring deleted
// blocks back: opsbot would otherwise rewrite a body a person worked on.
func TestSnapshot_KeepsEditorsAndDeletions(t *testing.T) {
	e := setup(t)
	page := e.newPage(t, "inc-1")
	_, out := e.raw(t, "PATCH", "/v1/blocks/"+page+"/children", map[string]any{"children": []any{para("edited"), para("deleted")}}, nil)
	results := out["results"].([]any)
	edited, deleted := results[0].(map[string]any)["id"].(string), results[1].(map[string]any)["id"].(string)
	e.fake.EditBlock(edited, "a person's words", nil)
	if status, out := e.raw(t, "DELETE", "/v1/blocks/"+deleted, nil, nil); status != 200 {
		t.Fatalf("delete: %d %v", status, out)
	}
	snap, err := e.fake.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.Restore(snap); err != nil {
		t.Fatal(err)
	}
	blocks := e.fake.Blocks(page)
	if len(blocks) != 1 || blocks[0].Text != "a person's words" || !blocks[0].EditedByPerson {
		t.Fatalf("after restore: %+v", blocks)
	}
}
