package notion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// errEdited says a page's blocks are not a beginning of what opsbot
// would write: someone changed it, and opsbot leaves it alone.
var errEdited = errors.New("the page's blocks differ from the post-mortem opsbot writes")

// WritePostmortem returns the page already written for doc.IncidentID,
// or creates it. It looks first, so a retry after a crash finds the page
// instead of making a second one; a page left half-written by a crash is
// completed when its blocks are exactly a beginning of the body.
func (c *Client) WritePostmortem(ctx context.Context, doc workflows.Postmortem) (workflows.DocRef, error) {
	if doc.IncidentID == "" {
		return workflows.DocRef{}, workflows.Permanent(errors.New("write post-mortem: no incident ID"))
	}
	ps, err := pieces(doc.Body)
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("write post-mortem of %s: %w", doc.IncidentID, err))
	}
	if err := c.checkBeforeWrite(ctx); err != nil {
		return workflows.DocRef{}, err
	}
	props := c.properties(ctx, doc)
	propBytes, err := json.Marshal(props)
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("encode properties of %s: %w", doc.IncidentID, err))
	}
	chunks, err := batches(ps, maxRequestBytes-len(propBytes))
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("write post-mortem of %s: %w", doc.IncidentID, err))
	}

	return c.writePage(ctx, c.db, c.props.IncidentID, doc.IncidentID, "post-mortem of "+doc.IncidentID, props, ps, chunks)
}

// writePage returns the page of database db whose keyProp is key,
// completing it when its blocks are exactly a beginning of ps, or
// creates it with props and the first of chunks (ps in requests), then
// appends the rest. It looks first, so a retry after a crash finds the
// page instead of making a second one.
func (c *Client) writePage(ctx context.Context, db notionapi.DatabaseID, keyProp, key, what string, props notionapi.Properties, ps []piece, chunks []batch) (workflows.DocRef, error) {
	var page *notionapi.Page
	err := c.do(ctx, "find "+what, func(ctx context.Context, _ bool) error {
		var err error
		page, err = c.findBy(ctx, db, keyProp, key)
		return err
	})
	if err != nil {
		return workflows.DocRef{}, err
	}
	written := 0 // blocks known to be on the page
	found := page != nil
	if !found {
		var first batch
		if len(chunks) > 0 {
			first = chunks[0]
		}
		err = c.do(ctx, "create "+what, func(ctx context.Context, maybeApplied bool) error {
			if maybeApplied {
				p, err := c.findBy(ctx, db, keyProp, key)
				if err != nil || p != nil {
					page, found = p, p != nil
					return err
				}
			}
			p, err := c.api.Page.Create(ctx, &notionapi.PageCreateRequest{
				Parent:     notionapi.Parent{Type: notionapi.ParentTypeDatabaseID, DatabaseID: db},
				Properties: props,
				Children:   first,
			})
			if err != nil {
				return err
			}
			page, written = p, len(first)
			return nil
		})
		if err != nil {
			return workflows.DocRef{}, err
		}
		if !found {
			c.log.InfoContext(ctx, "notion: page created", "page", page.ID, "of", what, "blocks", len(ps))
		}
	}
	ref := workflows.DocRef{PageID: string(page.ID), URL: page.URL}
	if found {
		var n int
		err := c.do(ctx, "read blocks of "+ref.PageID, func(ctx context.Context, _ bool) error {
			var err error
			n, err = c.writtenPrefix(ctx, ref.PageID, ps)
			return err
		})
		if errors.Is(err, errEdited) {
			c.log.InfoContext(ctx, "notion: page exists and was edited; leaving it", "of", what, "page", ref.PageID)
			return ref, nil
		}
		if err != nil {
			return ref, err
		}
		written = n
	}
	if err := c.appendFrom(ctx, ref.PageID, ps, written); err != nil {
		return ref, err
	}
	return ref, nil
}

// find returns the oldest live page of the database whose incident ID
// property equals id, or nil.
func (c *Client) find(ctx context.Context, id string) (*notionapi.Page, error) {
	return c.findBy(ctx, c.db, c.props.IncidentID, id)
}

// findBy returns the oldest live page of database db whose rich-text
// property prop equals id, or nil.
func (c *Client) findBy(ctx context.Context, db notionapi.DatabaseID, prop, id string) (*notionapi.Page, error) {
	res, err := c.api.Database.Query(ctx, db, &notionapi.DatabaseQueryRequest{
		Filter: notionapi.PropertyFilter{
			Property: prop,
			RichText: &notionapi.TextFilterCondition{Equals: id},
		},
		Sorts:    []notionapi.SortObject{{Timestamp: notionapi.TimestampCreated, Direction: notionapi.SortOrderASC}},
		PageSize: 1,
	})
	if err != nil {
		return nil, err
	}
	if len(res.Results) == 0 {
		return nil, nil
	}
	return &res.Results[0], nil
}

// appendFrom appends ps[from:] to the page in requests within Notion's
// limits, in order. After an attempt that may have been carried out
// without an answer, it reads the page back to see how far it got, so
// no block is written twice.
func (c *Client) appendFrom(ctx context.Context, pageID string, ps []piece, from int) error {
	for from < len(ps) {
		chunks, err := batches(ps[from:], maxRequestBytes)
		if err != nil {
			return workflows.Permanent(fmt.Errorf("append to %s: %w", pageID, err))
		}
		chunk := chunks[0]
		err = c.do(ctx, fmt.Sprintf("append blocks %d-%d to %s", from, from+len(chunk), pageID),
			func(ctx context.Context, maybeApplied bool) error {
				if maybeApplied {
					n, err := c.writtenPrefix(ctx, pageID, ps)
					if err != nil {
						return err
					}
					if n != from {
						from = n
						return nil // the outer loop rebatches from here
					}
				}
				if _, err := c.api.Block.AppendChildren(ctx, notionapi.BlockID(pageID),
					&notionapi.AppendBlockChildrenRequest{Children: chunk}); err != nil {
					return err
				}
				from += len(chunk)
				return nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}

// writtenPrefix reads the page's blocks and returns how many of ps are
// already there, or errEdited (final) when the page's blocks are not a
// beginning of ps. It makes one request per 100 blocks and does not
// retry: it runs inside an attempt.
func (c *Client) writtenPrefix(ctx context.Context, pageID string, ps []piece) (int, error) {
	n := 0
	var cursor notionapi.Cursor
	for {
		res, err := c.api.Block.GetChildren(ctx, notionapi.BlockID(pageID), &notionapi.Pagination{StartCursor: cursor, PageSize: 100})
		if err != nil {
			return 0, err
		}
		for _, b := range res.Results {
			if n >= len(ps) || !sameBlock(b, ps[n]) {
				return 0, final{fmt.Errorf("page %s, block %d: %w", pageID, n, errEdited)}
			}
			n++
		}
		if !res.HasMore || res.NextCursor == "" {
			return n, nil
		}
		cursor = notionapi.Cursor(res.NextCursor)
	}
}

// properties are the page's property values; empty values are left out.
// The commander may need Notion's list of users (cached).
func (c *Client) properties(ctx context.Context, doc workflows.Postmortem) notionapi.Properties {
	p := c.props
	title := doc.Title
	if title == "" {
		title = doc.IncidentID
	}
	props := notionapi.Properties{
		p.Title:      notionapi.TitleProperty{Title: richText(capped(title))},
		p.IncidentID: notionapi.RichTextProperty{RichText: richText([]string{doc.IncidentID})},
	}
	text := func(name, v string) {
		if v != "" && c.schema.has(name, "rich_text") {
			props[name] = notionapi.RichTextProperty{RichText: richText(capped(v))}
		}
	}
	sel := func(name, v string) {
		if v != "" && c.schema.has(name, "select") {
			props[name] = notionapi.SelectProperty{Select: notionapi.Option{Name: optionName(v)}}
		}
	}
	date := func(name string, t time.Time) {
		if !t.IsZero() && c.schema.has(name, "date") {
			d := notionapi.Date(t)
			props[name] = notionapi.DateProperty{Date: &notionapi.DateObject{Start: &d}}
		}
	}
	sel(p.Severity, string(doc.Severity))
	sel(p.Status, string(doc.Status))
	date(p.Start, doc.Start)
	date(p.End, doc.End)
	date(p.Meeting, doc.Meeting)
	if doc.Duration > 0 {
		text(p.Duration, FormatDuration(doc.Duration))
	}
	if v := c.commander(ctx, doc.Commander, doc.CommanderEmail); v != nil {
		props[p.Commander] = v
	}
	if len(doc.Services) > 0 && c.schema.has(p.Services, "multi_select") {
		var opts []notionapi.Option
		seen := map[string]bool{}
		for _, s := range doc.Services {
			name := optionName(s)
			if name == "" || seen[name] || len(opts) == 100 {
				continue
			}
			seen[name] = true
			opts = append(opts, notionapi.Option{Name: name})
		}
		if len(opts) > 0 {
			props[p.Services] = notionapi.MultiSelectProperty{MultiSelect: opts}
		}
	}
	return props
}

// capped splits a property text into items, keeping at most the first
// block's worth (a property is one rich-text array).
func capped(s string) []string {
	return splitText(s)[0]
}

// optionName makes v a valid select option: no commas (Notion refuses
// them), at most 100 characters.
func optionName(v string) string {
	v = strings.Join(strings.Fields(strings.ReplaceAll(v, ",", " ")), " ")
	if r := []rune(v); len(r) > 100 {
		v = string(r[:100])
	}
	return v
}

// FormatDuration writes d as people read it in a post-mortem: "45s",
// "20m", "1h 20m", "2d 3h".
func FormatDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	}
	d = d.Round(time.Minute)
	days, d := d/(24*time.Hour), d%(24*time.Hour)
	hours, mins := d/time.Hour, (d%time.Hour)/time.Minute
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%dd", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%dh", hours))
	}
	if mins > 0 {
		parts = append(parts, fmt.Sprintf("%dm", mins))
	}
	return strings.Join(parts, " ")
}

// SetMeeting writes the review meeting's date and time on the page; a
// zero time clears it.
func (c *Client) SetMeeting(ctx context.Context, ref workflows.DocRef, at time.Time) error {
	if !c.schema.has(c.props.Meeting, "date") {
		c.log.WarnContext(ctx, "notion: the database has no Meeting date property; meeting date not written", "page", ref.PageID)
		return nil
	}
	var date *notionapi.DateObject
	if !at.IsZero() {
		d := notionapi.Date(at)
		date = &notionapi.DateObject{Start: &d}
	}
	return c.do(ctx, "set meeting on "+ref.PageID, func(ctx context.Context, _ bool) error {
		_, err := c.api.Page.Update(ctx, notionapi.PageID(ref.PageID), &notionapi.PageUpdateRequest{
			Properties: notionapi.Properties{c.props.Meeting: notionapi.DateProperty{Date: date}},
		})
		return err
	})
}

// Meeting reads the review meeting's date back from the page, where
// people may have set it by hand: a date and time, or a date alone
// ("2026-11-24", DateOnly: a day in no zone, which the caller places in
// the team's). The page is read as JSON here, not through notionapi,
// whose Date reads "2026-11-24" and "2026-11-24T00:00:00Z" alike.
func (c *Client) Meeting(ctx context.Context, ref workflows.DocRef) (workflows.DocDate, bool, error) {
	var page struct {
		Properties map[string]struct {
			Type string `json:"type"`
			Date *struct {
				Start string `json:"start"`
			} `json:"date"`
		} `json:"properties"`
	}
	err := c.do(ctx, "read meeting of "+ref.PageID, func(ctx context.Context, _ bool) error {
		return c.getJSON(ctx, "pages/"+url.PathEscape(ref.PageID), &page)
	})
	if err != nil {
		return workflows.DocDate{}, false, err
	}
	prop, ok := page.Properties[c.props.Meeting]
	if !ok {
		return workflows.DocDate{}, false, nil // an optional property the database lacks
	}
	if prop.Type != "date" {
		return workflows.DocDate{}, false, workflows.Permanent(fmt.Errorf("read meeting of %s: %q is a %s property, not a date", ref.PageID, c.props.Meeting, prop.Type))
	}
	if prop.Date == nil || prop.Date.Start == "" {
		return workflows.DocDate{}, false, nil
	}
	if d, err := time.Parse("2006-01-02", prop.Date.Start); err == nil {
		return workflows.DocDate{At: d, DateOnly: true}, true, nil
	}
	at, err := time.Parse(time.RFC3339Nano, prop.Date.Start)
	if err != nil {
		return workflows.DocDate{}, false, workflows.Permanent(fmt.Errorf("read meeting of %s: %q is not a date", ref.PageID, prop.Date.Start))
	}
	return workflows.DocDate{At: at}, true, nil
}

// notionVersion is the API version every request names, as notionapi's.
const notionVersion = "2022-06-28"

// getJSON GETs path under Notion's /v1/ (the transport sends it to the
// configured API URL) and decodes the answer into out. A failure answer
// is an error do classifies by its status, as notionapi's are.
func (c *Client) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, DefaultAPIURL+"/v1/"+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Notion-Version", notionVersion)
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		var e struct{ Code, Message string }
		_ = json.Unmarshal(body, &e)
		return &Error{Status: res.StatusCode, Code: e.Code, Message: e.Message}
	}
	return json.Unmarshal(body, out)
}
