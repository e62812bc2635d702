package notion

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jomei/notionapi"
)

// usersTTL is how long the workspace's e-mail → user mapping is trusted:
// one GET /v1/users walk serves every page written in that time, and a
// person who joins Notion is found within the hour.
const usersTTL = time.Hour

// userCache maps lower-cased e-mail addresses to Notion user IDs, as last
// listed.
type userCache struct {
	mu      sync.Mutex
	byEmail map[string]notionapi.UserID
	listed  time.Time
}

// personID returns the Notion user whose e-mail is email, or "" when the
// workspace has no such person, Notion hides e-mails (the integration
// lacks the "read user information including email addresses"
// capability) or the list cannot be read: a people property is a nicety,
// never a reason to fail a post-mortem.
func (c *Client) personID(ctx context.Context, email string) notionapi.UserID {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return ""
	}
	c.users.mu.Lock()
	defer c.users.mu.Unlock()
	now := c.now()
	if c.users.byEmail == nil || now.Sub(c.users.listed) >= usersTTL || now.Before(c.users.listed) {
		m, err := c.listUsers(ctx)
		if err != nil {
			// Notion answers 403 to an integration without the user
			// information capability. Keep the last good mapping and ask
			// again after the TTL, not at every page written.
			c.log.WarnContext(ctx, "notion: cannot list the workspace's users; people properties left empty (does the integration have the capability to read user information including email addresses?)", "err", err)
			if c.users.byEmail == nil {
				c.users.byEmail = map[string]notionapi.UserID{}
			}
			if ctx.Err() == nil {
				c.users.listed = now
			}
			return c.users.byEmail[email]
		}
		if len(m) == 0 {
			c.log.InfoContext(ctx, "notion: no user e-mails readable; give the integration the capability to read user information including email addresses")
		}
		c.users.byEmail, c.users.listed = m, now
	}
	return c.users.byEmail[email]
}

// listUsers walks GET /v1/users, 100 at a time.
func (c *Client) listUsers(ctx context.Context) (map[string]notionapi.UserID, error) {
	out := map[string]notionapi.UserID{}
	var cursor notionapi.Cursor
	for {
		var res *notionapi.UsersListResponse
		err := c.do(ctx, "list users", func(ctx context.Context, _ bool) error {
			var err error
			res, err = c.api.User.List(ctx, &notionapi.Pagination{StartCursor: cursor, PageSize: 100})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, u := range res.Results {
			if u.Type == notionapi.UserTypePerson && u.Person != nil && u.Person.Email != "" {
				out[strings.ToLower(u.Person.Email)] = u.ID
			}
		}
		if !res.HasMore || res.NextCursor == "" {
			return out, nil
		}
		cursor = res.NextCursor
	}
}

// commander is the Commander property's value: the Notion person when the
// property is of type people (empty when they are not in Notion), the
// real name as text otherwise.
func (c *Client) commander(ctx context.Context, name, email string) notionapi.Property {
	p := c.props.Commander
	if c.schema.is(p, "people") {
		id := c.personID(ctx, email)
		if id == "" {
			return notionapi.PeopleProperty{People: []notionapi.User{}}
		}
		return notionapi.PeopleProperty{People: []notionapi.User{{Object: "user", ID: id}}}
	}
	if name != "" && c.schema.has(p, "rich_text") {
		return notionapi.RichTextProperty{RichText: richText(capped(name))}
	}
	return nil
}
