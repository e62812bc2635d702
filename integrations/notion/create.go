package notion

import (
	"context"
	"fmt"
	"slices"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// CreateDatabase creates, as a subpage of the page parentPage (shared with
// the integration), a database with every property opsbot writes, and
// returns its ID and URL: what `opsbot notion init` does. A database is
// not something to make twice, so a create whose outcome is unknown (a
// timeout, a 5xx after sending) is not sent again: the error says to look
// under the page first.
func (c *Client) CreateDatabase(ctx context.Context, parentPage, title string) (id, url string, err error) {
	props := notionapi.PropertyConfigs{}
	schema := c.props.Schema()
	names := make([]string, 0, len(schema))
	for name := range schema {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		switch schema[name] {
		case "title":
			props[name] = notionapi.TitlePropertyConfig{Type: notionapi.PropertyConfigTypeTitle}
		case "rich_text":
			props[name] = notionapi.RichTextPropertyConfig{Type: notionapi.PropertyConfigTypeRichText}
		case "select":
			props[name] = notionapi.SelectPropertyConfig{Type: notionapi.PropertyConfigTypeSelect, Select: notionapi.Select{Options: []notionapi.Option{}}}
		case "multi_select":
			props[name] = notionapi.MultiSelectPropertyConfig{Type: notionapi.PropertyConfigTypeMultiSelect, MultiSelect: notionapi.Select{Options: []notionapi.Option{}}}
		case "date":
			props[name] = notionapi.DatePropertyConfig{Type: notionapi.PropertyConfigTypeDate}
		default:
			return "", "", fmt.Errorf("create database: property %q has type %q, which opsbot cannot create", name, schema[name])
		}
	}
	return c.createDatabase(ctx, parentPage, title, props)
}

// createDatabase creates a database with props under parentPage, once:
// a create whose outcome is unknown is not sent again.
func (c *Client) createDatabase(ctx context.Context, parentPage, title string, props notionapi.PropertyConfigs) (id, url string, err error) {
	req := &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: notionapi.ParentTypePageID, PageID: notionapi.PageID(parentPage)},
		Title:      []notionapi.RichText{{Type: notionapi.ObjectTypeText, Text: &notionapi.Text{Content: title}}},
		Properties: props,
	}
	var db *notionapi.Database
	err = c.do(ctx, "create database under page "+parentPage, func(ctx context.Context, maybeApplied bool) error {
		if maybeApplied {
			return workflows.Permanent(fmt.Errorf("Notion may have created the database already: look under page %s before running this again", parentPage))
		}
		var err error
		db, err = c.api.Database.Create(ctx, req)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return string(db.ID), db.URL, nil
}
