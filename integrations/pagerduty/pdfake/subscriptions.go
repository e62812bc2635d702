package pdfake

import (
	"net/http"
	"slices"
)

// WebhookSubscription is a V3 webhook subscription of the fake account:
// where PagerDuty delivers events, and for what.
type WebhookSubscription struct {
	ID  string
	URL string // delivery_method.url
	// FilterType is account_reference, service_reference or
	// team_reference; FilterID the service or team (empty for the
	// account).
	FilterType string
	FilterID   string
	Events     []string
	Active     bool
}

// subscriptionEvents are the incident events a subscription made by the
// fake sends.
var subscriptionEvents = []string{
	"incident.acknowledged", "incident.annotated", "incident.escalated", "incident.priority_updated",
	"incident.reassigned", "incident.reopened", "incident.resolved", "incident.triggered", "incident.unacknowledged",
}

// AddWebhookSubscription records a subscription (as made in PagerDuty's
// web app) and returns its ID. Empty FilterType means the whole account,
// empty Events every incident event.
func (s *Server) AddWebhookSubscription(sub WebhookSubscription) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.ID == "" {
		sub.ID = s.newID("PW", 7)
	}
	if sub.FilterType == "" {
		sub.FilterType = "account_reference"
	}
	if len(sub.Events) == 0 {
		sub.Events = slices.Clone(subscriptionEvents)
	}
	s.subs = append(s.subs, sub)
	return sub.ID
}

// RemoveWebhookSubscriptions deletes every subscription.
func (s *Server) RemoveWebhookSubscriptions() {
	s.mu.Lock()
	s.subs = nil
	s.mu.Unlock()
}

// GET /webhook_subscriptions, filtered by filter_type and filter_id and
// paginated with limit and offset, as PagerDuty's REST API v2 answers
// it. The signing secret is never shown again after creation: "secret"
// is null.
func (s *Server) listWebhookSubscriptions(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	limit, offset, c := s.paging(q)
	if c != nil {
		return c.answer()
	}
	ft, fid := q.Get("filter_type"), q.Get("filter_id")
	switch ft {
	case "", "account_reference", "service_reference", "team_reference":
	default:
		return fail(http.StatusBadRequest, 2001, "Invalid Input Provided", "Filter type is not valid")
	}
	var items []any
	for _, sub := range s.subs {
		if (ft != "" && sub.FilterType != ft) || (fid != "" && sub.FilterID != fid) {
			continue
		}
		filter := map[string]any{"type": sub.FilterType}
		if sub.FilterID != "" {
			filter["id"] = sub.FilterID
		}
		items = append(items, map[string]any{
			"id": sub.ID, "type": "webhook_subscription", "active": sub.Active,
			"description": "opsbot", "events": sub.Events, "filter": filter,
			"delivery_method": map[string]any{
				"id": "PD" + sub.ID, "type": "http_delivery_method", "url": sub.URL,
				"secret": nil, "temporarily_disabled": false, "custom_headers": []any{},
			},
		})
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, listPage("webhook_subscriptions", page, limit, offset, more)
}

// GET /abilities: what the account can do; a cheap way to check a token.
func (s *Server) listAbilities(*http.Request, []byte) (int, any) {
	return http.StatusOK, map[string]any{"abilities": []string{"teams", "read_only_users", "urgencies", "service_support_hours"}}
}
