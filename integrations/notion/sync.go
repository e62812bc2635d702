package notion

import (
	"context"
	"fmt"
	"strings"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// UpdatePostmortem brings a written page in step with the incident: its
// properties (status, severity, end, duration, commander, ...) always;
// its body only while nobody but opsbot has touched it, since the body is
// where people write the analysis. A page opsbot started early (during
// the incident) is so rewritten at resolution with the final data.
func (c *Client) UpdatePostmortem(ctx context.Context, ref workflows.DocRef, doc workflows.Postmortem) error {
	ps, err := pieces(doc.Body)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("update post-mortem of %s: %w", doc.IncidentID, err))
	}
	if !c.schema.known() {
		// After a restart: learn whether Commander is a people property
		// (an error here is found again by the update itself).
		_, _ = c.CheckSetup(ctx)
	}
	props := c.properties(ctx, doc)
	// The meeting is written when it is scheduled (SetMeeting) and may be
	// set by hand on the page, as a date alone: an update leaves it as it
	// is, rather than turning "2026-11-24" into a time of day.
	delete(props, c.props.Meeting)
	err = c.do(ctx, "update properties of "+ref.PageID, func(ctx context.Context, _ bool) error {
		_, err := c.api.Page.Update(ctx, notionapi.PageID(ref.PageID), &notionapi.PageUpdateRequest{Properties: props})
		return err
	})
	if err != nil {
		return err
	}
	var blocks []notionapi.Block
	err = c.do(ctx, "read blocks of "+ref.PageID, func(ctx context.Context, _ bool) error {
		var err error
		blocks, err = c.children(ctx, ref.PageID)
		return err
	})
	if err != nil {
		return err
	}
	if touchedByPeople(blocks) {
		c.log.InfoContext(ctx, "notion: post-mortem body edited by people; only its properties and new action items were written", "incident", doc.IncidentID, "page", ref.PageID)
		return c.addMissingTodos(ctx, ref.PageID, blocks, doc.Body)
	}
	keep := 0 // the blocks already as they should be
	for keep < len(blocks) && keep < len(ps) && sameBlock(blocks[keep], ps[keep]) {
		keep++
	}
	if keep == len(blocks) && keep == len(ps) {
		return nil
	}
	// Delete the old body after what is unchanged, then write the new
	// one. A crash in between leaves a page with part of it, all
	// opsbot's, which the next run deletes and rewrites the same way.
	for _, b := range blocks[keep:] {
		id := b.GetID()
		err := c.do(ctx, "delete block "+string(id), func(ctx context.Context, _ bool) error {
			_, err := c.api.Block.Delete(ctx, id)
			var ne *Error
			if asNotFound(err, &ne) {
				return nil // deleted by an earlier attempt
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return c.appendFrom(ctx, ref.PageID, ps, keep)
}

// addMissingTodos appends the action items' to-dos of body ("act-3 ·
// ...") that the page lacks, after the people's text: a body people have
// edited is not rewritten, but a new action item still goes on it. It
// runs in the one job that keeps the page in step (no second writer can
// append the same to-do meanwhile) and looks again before a retry, so a
// to-do is never there twice.
func (c *Client) addMissingTodos(ctx context.Context, pageID string, blocks []notionapi.Block, body []workflows.DocBlock) error {
	missing := func(blocks []notionapi.Block) []notionapi.Block {
		var out []notionapi.Block
		for _, b := range body {
			id, ok := actionID(b)
			if !ok || hasTodo(blocks, id) {
				continue
			}
			out = append(out, &notionapi.ToDoBlock{
				BasicBlock: notionapi.BasicBlock{Object: notionapi.ObjectTypeBlock, Type: notionapi.BlockTypeToDo},
				ToDo:       notionapi.ToDo{RichText: richText(capped(b.Text)), Checked: b.Checked},
			})
		}
		return out
	}
	add := missing(blocks)
	for len(add) > 0 {
		chunk := add[:min(len(add), maxChildren)]
		err := c.do(ctx, fmt.Sprintf("add %d to-do(s) to %s", len(chunk), pageID), func(ctx context.Context, maybeApplied bool) error {
			if maybeApplied {
				now, err := c.children(ctx, pageID)
				if err != nil {
					return err
				}
				add = missing(now)
				chunk = add[:min(len(add), maxChildren)]
				if len(chunk) == 0 {
					return nil
				}
			}
			_, err := c.api.Block.AppendChildren(ctx, notionapi.BlockID(pageID), &notionapi.AppendBlockChildrenRequest{Children: chunk})
			return err
		})
		if err != nil {
			return err
		}
		add = add[len(chunk):]
	}
	return nil
}

// actionID is the action item a to-do of the post-mortem body is for:
// its text starts with "act-N · ".
func actionID(b workflows.DocBlock) (string, bool) {
	if b.Kind != workflows.DocTodo {
		return "", false
	}
	id, _, ok := strings.Cut(b.Text, " · ")
	if !ok || !strings.HasPrefix(id, "act-") {
		return "", false
	}
	return id, true
}

// hasTodo reports whether blocks hold action item id's to-do.
func hasTodo(blocks []notionapi.Block, id string) bool {
	for _, b := range blocks {
		if td, ok := b.(*notionapi.ToDoBlock); ok && strings.HasPrefix(plainText(td.ToDo.RichText), id+" · ") {
			return true
		}
	}
	return false
}

// children reads all of a page's top-level blocks.
func (c *Client) children(ctx context.Context, pageID string) ([]notionapi.Block, error) {
	var out []notionapi.Block
	var cursor notionapi.Cursor
	for {
		res, err := c.api.Block.GetChildren(ctx, notionapi.BlockID(pageID), &notionapi.Pagination{StartCursor: cursor, PageSize: 100})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Results...)
		if !res.HasMore || res.NextCursor == "" {
			return out, nil
		}
		cursor = notionapi.Cursor(res.NextCursor)
	}
}

// touchedByPeople reports whether anyone other than the one who wrote the
// page's blocks (opsbot's integration) created or edited one: Notion
// names each block's creator and last editor.
func touchedByPeople(blocks []notionapi.Block) bool {
	if len(blocks) == 0 {
		return false
	}
	author := userID(blocks[0].GetCreatedBy())
	for _, b := range blocks {
		if userID(b.GetCreatedBy()) != author || userID(b.GetLastEditedBy()) != author {
			return true
		}
	}
	return false
}

func userID(u *notionapi.User) string {
	if u == nil {
		return ""
	}
	return string(u.ID)
}
