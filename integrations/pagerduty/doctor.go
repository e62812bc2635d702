package pagerduty

import (
	"context"
	"encoding/json"
	"errors"

	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/PagerDuty/go-pagerduty"
)

// CheckToken asks PagerDuty what the account can do (GET /abilities), the
// cheapest call that needs a valid REST API token.
func (c *Client) CheckToken(ctx context.Context) error {
	return c.call(ctx, "list abilities", func(ctx context.Context) error {
		_, err := c.pd.ListAbilitiesWithContext(ctx)
		return err
	})
}

// IsNotFound reports whether err is PagerDuty's 404.
func IsNotFound(err error) bool {
	var ae pagerduty.APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// IsUnauthorized reports whether err is PagerDuty refusing the token
// (401) or what it may do (403).
func IsUnauthorized(err error) bool {
	var ae pagerduty.APIError
	return errors.As(err, &ae) && (ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden)
}

// ServiceName returns a service's name; IsNotFound(err) when there is no
// such service.
func (c *Client) ServiceName(ctx context.Context, id string) (string, error) {
	var svc *pagerduty.Service
	err := c.call(ctx, "get service "+id, func(ctx context.Context) error {
		var err error
		svc, err = c.pd.GetServiceWithContext(ctx, id, &pagerduty.GetServiceOptions{})
		return err
	})
	if err != nil {
		return "", err
	}
	return svc.Name, nil
}

// WebhookSubscription is a V3 webhook subscription: where PagerDuty
// delivers events and which events of what.
type WebhookSubscription struct {
	ID         string
	Active     bool
	URL        string
	FilterType string // account_reference, service_reference or team_reference
	FilterID   string
	Events     []string
}

type subscriptionsPage struct {
	Subscriptions []struct {
		ID             string   `json:"id"`
		Active         bool     `json:"active"`
		Events         []string `json:"events"`
		DeliveryMethod struct {
			URL string `json:"url"`
		} `json:"delivery_method"`
		Filter struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"filter"`
	} `json:"webhook_subscriptions"`
	More bool `json:"more"`
}

// WebhookSubscriptions lists every V3 webhook subscription of the account
// (GET /webhook_subscriptions, offset-paginated). go-pagerduty has no call
// for it, so the request goes through its Do, which authenticates it.
func (c *Client) WebhookSubscriptions(ctx context.Context) ([]WebhookSubscription, error) {
	var out []WebhookSubscription
	for offset := 0; ; {
		var page subscriptionsPage
		err := c.call(ctx, "list webhook subscriptions", func(ctx context.Context) error {
			q := url.Values{"limit": {strconv.Itoa(int(c.opts.PageSize))}, "offset": {strconv.Itoa(offset)}}
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.APIURL+"/webhook_subscriptions?"+q.Encode(), nil)
			if err != nil {
				return err
			}
			resp, err := c.pd.Do(req, true)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			if err != nil {
				return err
			}
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				ae := pagerduty.APIError{}
				_ = json.Unmarshal(body, &ae)
				ae.StatusCode = resp.StatusCode
				return ae
			}
			page = subscriptionsPage{}
			return json.Unmarshal(body, &page)
		})
		if err != nil {
			return nil, err
		}
		for _, s := range page.Subscriptions {
			out = append(out, WebhookSubscription{ID: s.ID, Active: s.Active, URL: s.DeliveryMethod.URL,
				FilterType: s.Filter.Type, FilterID: s.Filter.ID, Events: s.Events})
		}
		if !page.More || len(page.Subscriptions) == 0 {
			return out, nil
		}
		offset += len(page.Subscriptions)
	}
}
