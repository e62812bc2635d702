package notion

import (
	"context"
	"fmt"

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
		c.log.Info("notion: post-mortem body edited by people; only its properties were updated", "incident", doc.IncidentID, "page", ref.PageID)
		return nil
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
