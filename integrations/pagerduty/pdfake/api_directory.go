package pdfake

import (
	"net/http"
	"slices"
	"strings"
)

// GET /users with query: PagerDuty matches the query against users' names
// and emails (case-insensitive); how integrations find the PagerDuty user
// behind an email.
func (s *Server) listUsers(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	limit, offset, c := s.paging(q)
	if c != nil {
		return c.answer()
	}
	query := strings.ToLower(q.Get("query"))
	var items []any
	for _, id := range s.userOrder {
		u := s.users[id]
		if query != "" && !strings.Contains(strings.ToLower(u.Name), query) && !strings.Contains(strings.ToLower(u.Email), query) {
			continue
		}
		items = append(items, s.userJSON(u))
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, listPage("users", page, limit, offset, more)
}

// GET /users/{id}
func (s *Server) getUser(r *http.Request, _ []byte) (int, any) {
	u, ok := s.users[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	return http.StatusOK, map[string]any{"user": s.userJSON(u)}
}

// GET /services/{id}
func (s *Server) getService(r *http.Request, _ []byte) (int, any) {
	svc, ok := s.services[r.PathValue("id")]
	if !ok {
		return fail(http.StatusNotFound, 2100, "Not Found")
	}
	out := s.ref("service", svc.ID, svc.Name, "/services/"+svc.ID, "/service-directory/"+svc.ID)
	out["name"] = svc.Name
	out["status"] = "active"
	out["escalation_policy"] = s.policyRef(svc.EscalationPolicyID)
	out["teams"] = []any{}
	out["alert_creation"] = "create_alerts_and_incidents"
	return http.StatusOK, map[string]any{"service": out}
}

// GET /oncalls with escalation_policy_ids[] and user_ids[] filters;
// include[]=users puts full user objects (with emails) in place of
// references. On-call here is permanent, so since/until change nothing.
func (s *Server) listOnCalls(r *http.Request, _ []byte) (int, any) {
	q := r.URL.Query()
	limit, offset, c := s.paging(q)
	if c != nil {
		return c.answer()
	}
	policies, users := q["escalation_policy_ids[]"], q["user_ids[]"]
	fullUsers := slices.Contains(q["include[]"], "users")
	var items []any
	for _, pid := range s.polOrder {
		if len(policies) > 0 && !slices.Contains(policies, pid) {
			continue
		}
		for level, ids := range s.policies[pid].Levels {
			for _, uid := range ids {
				if len(users) > 0 && !slices.Contains(users, uid) {
					continue
				}
				var user any = s.userRef(uid)
				if u, ok := s.users[uid]; ok && fullUsers {
					user = s.userJSON(u)
				}
				items = append(items, map[string]any{
					"escalation_policy": s.policyRef(pid),
					"escalation_level":  level + 1,
					"schedule":          nil,
					"user":              user,
					"start":             nil,
					"end":               nil,
				})
			}
		}
	}
	page, more := window(items, limit, offset)
	return http.StatusOK, listPage("oncalls", page, limit, offset, more)
}
