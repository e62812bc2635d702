package notion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.ReviewPages = (*Client)(nil)

// The properties of a review database (alert reviews, cost reviews):
// the page's title, the review's ID opsbot finds it again by, and the
// review's date (optional).
const (
	ReviewTitleProp = "Name"
	ReviewIDProp    = "Review ID"
	ReviewDateProp  = "Date"
)

// ReviewSchema is a review database's schema (name → Notion type): what
// `opsbot notion init` creates, and the sandbox's fake holds.
func ReviewSchema() map[string]string {
	return map[string]string{ReviewTitleProp: "title", ReviewIDProp: "rich_text", ReviewDateProp: "date"}
}

// reviewSchemas caches each review database's properties (name → type),
// read once per process: the Date property is optional.
type reviewSchemas struct {
	mu    sync.Mutex
	types map[string]map[string]string
}

func (r *reviewSchemas) get(db string) (map[string]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.types[db]
	return t, ok
}

func (r *reviewSchemas) set(db string, t map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.types == nil {
		r.types = map[string]map[string]string{}
	}
	r.types[db] = t
}

// reviewSchema reads the review database's properties, once.
func (c *Client) reviewSchema(ctx context.Context, db string) (map[string]string, error) {
	if t, ok := c.reviews.get(db); ok {
		return t, nil
	}
	var d *notionapi.Database
	err := c.do(ctx, "read review database "+db, func(ctx context.Context, _ bool) error {
		var err error
		d, err = c.api.Database.Get(ctx, notionapi.DatabaseID(db))
		return err
	})
	if err != nil {
		return nil, err
	}
	have := map[string]string{}
	for name, p := range d.Properties {
		have[name] = string(p.GetType())
	}
	c.reviews.set(db, have)
	return have, nil
}

// CheckReviewDatabase reads a review database and says what is missing
// or of the wrong type. As CheckSetup: a database Notion will not show is
// a problem, not an error.
func (c *Client) CheckReviewDatabase(ctx context.Context, db string) (Setup, error) {
	c.reviews.mu.Lock()
	delete(c.reviews.types, db)
	c.reviews.mu.Unlock()
	have, err := c.reviewSchema(ctx, db)
	if err != nil {
		var ne *Error
		if errors.As(err, &ne) && (ne.Status == 404 || ne.Status == 401 || ne.Status == 403 || ne.Status == 400) {
			return Setup{cause: ne, Problems: []string{fmt.Sprintf("Notion cannot open database %s (%s): check the ID, NOTION_TOKEN, and that the database is shared with the integration", db, ne.Message)}}, nil
		}
		return Setup{}, err
	}
	var out Setup
	want := ReviewSchema()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		got, ok := have[name]
		var problem string
		switch {
		case !ok:
			problem = fmt.Sprintf("property %q (%s) is missing", name, want[name])
		case got != want[name]:
			problem = fmt.Sprintf("property %q is %s, not %s", name, got, want[name])
		default:
			continue
		}
		if name == ReviewDateProp {
			out.Skipped = append(out.Skipped, problem)
		} else {
			out.Problems = append(out.Problems, problem)
		}
	}
	return out, nil
}

// WriteReviewPage creates the page of p.Key in database db, or returns
// the one created for it already: it looks the page up by its Review ID
// first, and completes a page a crash left half-written.
func (c *Client) WriteReviewPage(ctx context.Context, db string, p workflows.ReviewPage) (workflows.DocRef, error) {
	if p.Key == "" || db == "" {
		return workflows.DocRef{}, workflows.Permanent(errors.New("write review page: no review ID or no database"))
	}
	ps, err := pieces(p.Body)
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("write the page of review %s: %w", p.Key, err))
	}
	have, err := c.reviewSchema(ctx, db)
	if err != nil {
		return workflows.DocRef{}, err
	}
	title := p.Title
	if title == "" {
		title = p.Key
	}
	props := notionapi.Properties{
		ReviewTitleProp: notionapi.TitleProperty{Title: richText(capped(title))},
		ReviewIDProp:    notionapi.RichTextProperty{RichText: richText([]string{p.Key})},
	}
	if !p.Date.IsZero() && have[ReviewDateProp] == "date" {
		d := notionapi.Date(p.Date)
		props[ReviewDateProp] = notionapi.DateProperty{Date: &notionapi.DateObject{Start: &d}}
	}
	propBytes, err := json.Marshal(props)
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("encode the properties of review %s: %w", p.Key, err))
	}
	chunks, err := batches(ps, maxRequestBytes-len(propBytes))
	if err != nil {
		return workflows.DocRef{}, workflows.Permanent(fmt.Errorf("write the page of review %s: %w", p.Key, err))
	}
	return c.writePage(ctx, notionapi.DatabaseID(db), ReviewIDProp, p.Key, "review page "+p.Key, props, ps, chunks)
}

// AppendReviewLine appends b at the end of the page of review key in db,
// unless a top-level block whose text starts with prefix is on it: the
// line is written once however often it is asked for. When an append's
// answer is lost, the page is read again before trying again.
func (c *Client) AppendReviewLine(ctx context.Context, db, key, prefix string, b workflows.DocBlock) error {
	ps, err := pieces([]workflows.DocBlock{b})
	if err != nil || len(ps) != 1 {
		return workflows.Permanent(fmt.Errorf("add a line to review page %s: one block of text expected (%v)", key, err))
	}
	var page *notionapi.Page
	err = c.do(ctx, "find review page "+key, func(ctx context.Context, _ bool) error {
		var err error
		page, err = c.findBy(ctx, notionapi.DatabaseID(db), ReviewIDProp, key)
		return err
	})
	if err != nil {
		return err
	}
	if page == nil {
		return fmt.Errorf("review %s: %w", key, workflows.ErrNoReviewPage)
	}
	id := string(page.ID)
	return c.do(ctx, "add a line to review page "+key, func(ctx context.Context, _ bool) error {
		blocks, err := c.children(ctx, id)
		if err != nil {
			return err
		}
		for _, bl := range blocks {
			if strings.HasPrefix(bl.GetRichTextString(), prefix) {
				return nil
			}
		}
		_, err = c.api.Block.AppendChildren(ctx, notionapi.BlockID(id), &notionapi.AppendBlockChildrenRequest{Children: []notionapi.Block{ps[0].block()}})
		return err
	})
}

// CreateReviewDatabase creates a review database (Name, Review ID, Date)
// under the page parentPage, as CreateDatabase does for post-mortems.
func (c *Client) CreateReviewDatabase(ctx context.Context, parentPage, title string) (id, url string, err error) {
	props := notionapi.PropertyConfigs{
		ReviewTitleProp: notionapi.TitlePropertyConfig{Type: notionapi.PropertyConfigTypeTitle},
		ReviewIDProp:    notionapi.RichTextPropertyConfig{Type: notionapi.PropertyConfigTypeRichText},
		ReviewDateProp:  notionapi.DatePropertyConfig{Type: notionapi.PropertyConfigTypeDate},
	}
	return c.createDatabase(ctx, parentPage, title, props)
}
