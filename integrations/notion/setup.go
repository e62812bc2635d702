package notion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jomei/notionapi"

	"github.com/opsbot/opsbot/workflows"
)

// Setup is what opsbot found in the post-mortem database.
type Setup struct {
	// Problems make post-mortems impossible until fixed: the title and
	// Incident ID properties (how opsbot finds a page again) missing or of
	// the wrong type, or the database not shared with the integration.
	Problems []string
	// Skipped are optional properties that are missing or of another
	// type: opsbot writes the post-mortem without them.
	Skipped []string
	// cause is Notion's refusal, when it would not show the database.
	cause error
}

// OK reports whether post-mortems can be written.
func (s Setup) OK() bool { return len(s.Problems) == 0 }

// String is a one-line account for logs and /readyz.
func (s Setup) String() string {
	var parts []string
	if len(s.Problems) > 0 {
		parts = append(parts, "cannot write post-mortems: "+strings.Join(s.Problems, "; "))
	}
	if len(s.Skipped) > 0 {
		parts = append(parts, "will leave out: "+strings.Join(s.Skipped, "; "))
	}
	if len(parts) == 0 {
		return "database ok"
	}
	return strings.Join(parts, "; ")
}

// schemaCache holds the properties the database has, by name and type,
// as last read.
type schemaCache struct {
	mu    sync.Mutex
	types map[string]string // nil until read
}

func (c *schemaCache) set(types map[string]string) {
	c.mu.Lock()
	c.types = types
	c.mu.Unlock()
}

// has reports whether the database has the property with that type; when
// the schema was never read, it answers yes (the write then finds out).
func (c *schemaCache) has(name, typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types == nil || c.types[name] == typ
}

// is reports whether the schema was read and has the property with that
// type.
func (c *schemaCache) is(name, typ string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types != nil && c.types[name] == typ
}

// known reports whether the schema was read.
func (c *schemaCache) known() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types != nil
}

// CheckSetup reads the database and compares its properties with the
// ones opsbot writes. A database Notion cannot find (not shared with the
// integration, a wrong ID) or a bad token is a problem, not an error: the
// answer says what to fix. Errors are for Notion being unreachable.
func (c *Client) CheckSetup(ctx context.Context) (Setup, error) {
	var db *notionapi.Database
	err := c.do(ctx, "read database "+string(c.db), func(ctx context.Context, _ bool) error {
		var err error
		db, err = c.api.Database.Get(ctx, c.db)
		return err
	})
	if err != nil {
		var ne *Error
		if errors.As(err, &ne) && (ne.Status == 404 || ne.Status == 401 || ne.Status == 403 || ne.Status == 400) {
			c.schema.set(nil)
			return Setup{cause: ne, Problems: []string{fmt.Sprintf("Notion cannot open database %s (%s): check incidents.notion_database, NOTION_TOKEN, and that the database is shared with the integration", c.db, ne.Message)}}, nil
		}
		return Setup{}, err
	}
	have := map[string]string{}
	for name, p := range db.Properties {
		have[name] = string(p.GetType())
	}
	c.schema.set(have)
	var out Setup
	required := map[string]bool{c.props.Title: true, c.props.IncidentID: true}
	want := c.props.Schema()
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		typ := want[name]
		got, ok := have[name]
		var problem string
		switch {
		case !ok:
			problem = fmt.Sprintf("property %q (%s) is missing", name, typ)
		case name == c.props.Commander && got == "people":
			continue // the Notion person, where the commander is one
		case got != typ:
			problem = fmt.Sprintf("property %q is %s, not %s", name, got, typ)
		default:
			continue
		}
		if required[name] {
			out.Problems = append(out.Problems, problem)
		} else {
			out.Skipped = append(out.Skipped, problem)
		}
	}
	return out, nil
}

// checkBeforeWrite reads the database before a post-mortem is written, so
// a database missing what opsbot needs is named (a workflows.DocSetupError
// the post-mortem job retries until the database is fixed) instead of
// failing the write for good, and optional properties it lacks are left
// out of the page.
func (c *Client) checkBeforeWrite(ctx context.Context) error {
	setup, err := c.CheckSetup(ctx)
	if err != nil {
		return err
	}
	if len(setup.Skipped) > 0 {
		c.log.WarnContext(ctx, "notion: writing post-mortems without some properties", "missing", strings.Join(setup.Skipped, "; "))
	}
	if !setup.OK() {
		return &workflows.DocSetupError{Problems: setup.Problems, Skipped: setup.Skipped, Err: setup.cause}
	}
	return nil
}

// asNotFound reports whether err is Notion's 404 (object_not_found).
func asNotFound(err error, ne **Error) bool {
	if err == nil {
		return false
	}
	var e *notionapi.Error
	if errors.As(err, &e) && e.Status == 404 {
		return true
	}
	return errors.As(err, ne) && (*ne).Status == 404
}
