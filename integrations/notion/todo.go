package notion

import (
	"context"
	"strings"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// AddTodo appends action item id's to-do to the page unless the page has
// one already (its text starts with "id · "): a retry, or a body that
// already lists it, adds nothing.
func (c *Client) AddTodo(ctx context.Context, ref workflows.DocRef, id, text string, checked bool) error {
	return c.do(ctx, "add to-do "+id+" to "+ref.PageID, func(ctx context.Context, _ bool) error {
		if td, err := c.findTodo(ctx, ref.PageID, id); err != nil || td != nil {
			return err
		}
		_, err := c.api.Block.AppendChildren(ctx, notionapi.BlockID(ref.PageID), &notionapi.AppendBlockChildrenRequest{
			Children: []notionapi.Block{&notionapi.ToDoBlock{
				BasicBlock: notionapi.BasicBlock{Object: notionapi.ObjectTypeBlock, Type: notionapi.BlockTypeToDo},
				ToDo:       notionapi.ToDo{RichText: richText(capped(text)), Checked: checked},
			}},
		})
		return err
	})
}

// TodoChecked reads the checkbox of action item id's to-do on the page
// (the page's children, as Notion returns them with each to_do's
// "checked"); false when the page has no such to-do.
func (c *Client) TodoChecked(ctx context.Context, ref workflows.DocRef, id string) (bool, error) {
	var checked bool
	err := c.do(ctx, "read to-do "+id+" on "+ref.PageID, func(ctx context.Context, _ bool) error {
		td, err := c.findTodo(ctx, ref.PageID, id)
		checked = td != nil && td.ToDo.Checked
		return err
	})
	return checked, err
}

// findTodo returns the page's to-do for action item id, or nil.
func (c *Client) findTodo(ctx context.Context, pageID, id string) (*notionapi.ToDoBlock, error) {
	blocks, err := c.children(ctx, pageID)
	if err != nil {
		return nil, err
	}
	for _, b := range blocks {
		if td, ok := b.(*notionapi.ToDoBlock); ok && strings.HasPrefix(plainText(td.ToDo.RichText), id+" · ") {
			return td, nil
		}
	}
	return nil, nil
}

func plainText(rt []notionapi.RichText) string {
	var b strings.Builder
	for _, r := range rt {
		if r.PlainText != "" {
			b.WriteString(r.PlainText)
		} else if r.Text != nil {
			b.WriteString(r.Text.Content)
		}
	}
	return b.String()
}
