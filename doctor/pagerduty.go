package doctor

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/opsbot/opsbot/integrations/pagerduty"
)

// pdService is a PagerDuty service the config names, and where.
type pdService struct {
	id   string
	uses []string
}

// pdServices lists the services of the config: each team's
// pagerduty_service and each incidents.services entry.
func (d *Doctor) pdServices() []pdService {
	var out []pdService
	at := map[string]int{}
	add := func(id, use string) {
		if i, ok := at[id]; ok {
			out[i].uses = append(out[i].uses, use)
			return
		}
		at[id] = len(out)
		out = append(out, pdService{id: id, uses: []string{use}})
	}
	for _, t := range d.Config.Catalog.Teams {
		if t.PagerDutyService != "" {
			add(t.PagerDutyService, "team "+t.Name)
		}
	}
	if pol := d.Config.Catalog.Incidents; pol != nil {
		ids := make([]string, 0, len(pol.Services))
		for id := range pol.Services {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if _, named := at[id]; !named { // teams' services are in pol.Services too
				add(id, "incidents.services")
			}
		}
	}
	return out
}

// pagerDuty checks the token, every service the config names, the users
// opsbot acts as (the From of acknowledgements and notes: each team's
// incident members), and a V3 webhook subscription pointing at opsbot.
func (d *Doctor) pagerDuty(ctx context.Context) {
	const area = "pagerduty"
	services := d.pdServices()
	if d.Config.Catalog.Incidents == nil {
		d.add(Check{Area: area, Name: "incidents", Status: StatusSkip, Detail: "incidents are not configured (no incidents: section)"})
		return
	}
	if d.PagerDuty == nil {
		if len(services) == 0 {
			d.add(Check{Area: area, Name: "token", Status: StatusSkip, Detail: "PAGERDUTY_API_TOKEN is not set and no team names a PagerDuty service: PagerDuty is off"})
			return
		}
		d.add(Check{Area: area, Name: "token", Status: StatusFail, Detail: "PAGERDUTY_API_TOKEN is not set, but the config names PagerDuty services",
			Fix: "create a REST API key in PagerDuty (Integrations → API Access Keys) and set PAGERDUTY_API_TOKEN"})
		return
	}
	err := d.within(ctx, d.PagerDuty.CheckToken)
	if err != nil {
		c := Check{Area: area, Name: "token", Status: StatusFail, Detail: "PagerDuty did not answer: " + err.Error(),
			Fix: "check that api.pagerduty.com is reachable from here (PAGERDUTY_API_URL, proxies)"}
		if pagerduty.IsUnauthorized(err) {
			c.Detail = "PagerDuty refused the token"
			c.Fix = "set PAGERDUTY_API_TOKEN to a valid REST API key (Integrations → API Access Keys); a user token works too"
		}
		d.add(c)
		return
	}
	d.add(Check{Area: area, Name: "token", Status: StatusOK, Detail: "the REST API key works"})

	for _, s := range services {
		var name string
		err := d.within(ctx, func(ctx context.Context) (err error) {
			name, err = d.PagerDuty.ServiceName(ctx, s.id)
			return err
		})
		use := " (" + strings.Join(s.uses, "; ") + ")"
		switch {
		case pagerduty.IsNotFound(err):
			d.add(Check{Area: area, Name: "service " + s.id, Status: StatusFail, Detail: "no such service in this PagerDuty account" + use,
				Fix: "use the ID at the end of the service's URL in PagerDuty (Services → the service), or remove it from the config"})
		case err != nil:
			d.add(Check{Area: area, Name: "service " + s.id, Status: StatusFail, Detail: "could not read it: " + err.Error()})
		default:
			d.add(Check{Area: area, Name: "service " + s.id, Status: StatusOK, Detail: fmt.Sprintf("%q%s", name, use)})
		}
	}

	d.fromUsers(ctx)
	d.webhook(ctx, services)
}

// fromUsers checks that each incident member has a PagerDuty user with
// the same email: PagerDuty takes acknowledgements, resolutions and notes
// made from Slack only From a known user. Members named by Slack ID are
// looked up in Slack for their email.
func (d *Doctor) fromUsers(ctx context.Context) {
	const area = "pagerduty"
	seen := map[string]bool{}
	for _, t := range d.Config.Catalog.Teams {
		for _, ref := range t.IncidentMembers {
			if seen[ref] {
				continue
			}
			seen[ref] = true
			email := ref
			if !strings.Contains(ref, "@") {
				if d.Slack == nil {
					continue
				}
				err := d.within(ctx, func(ctx context.Context) (err error) {
					email, err = d.Slack.UserEmail(ctx, ref)
					return err
				})
				if err != nil || email == "" {
					d.add(Check{Area: area, Name: "user " + ref, Status: StatusWarn, Detail: "Slack did not give this member's email, so PagerDuty cannot be asked",
						Fix: "name the member by email in the config (team " + t.Name + ", incident_members)"})
					continue
				}
			}
			var ok bool
			err := d.within(ctx, func(ctx context.Context) (err error) {
				ok, err = d.PagerDuty.HasUser(ctx, email)
				return err
			})
			name := "user " + email
			if email != ref {
				name += " (" + ref + ")"
			}
			switch {
			case err != nil:
				d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: "could not look the user up: " + err.Error()})
			case !ok:
				d.add(Check{Area: area, Name: name, Status: StatusFail,
					Detail: "no PagerDuty user has this email (incident member of team " + t.Name + ")",
					Fix:    "add " + email + " as a user in PagerDuty (People → Users), or make their Slack email match their PagerDuty one: PagerDuty refuses acknowledgements and notes From an unknown email"})
			default:
				d.add(Check{Area: area, Name: name, Status: StatusOK, Detail: "a PagerDuty user (acknowledgements and notes can be made as them)"})
			}
		}
	}
}

// webhook checks for an active V3 webhook subscription delivering to
// opsbot's /webhooks/pagerduty, covering every configured service (an
// account-wide one does), and that its signing secret is set.
func (d *Doctor) webhook(ctx context.Context, services []pdService) {
	const area = "pagerduty"
	const name = "webhook subscription"
	want := ""
	if d.PublicURL != "" {
		want = strings.TrimSuffix(d.PublicURL, "/") + pagerduty.WebhookPath
	}
	fix := "in PagerDuty, Integrations → Generic Webhooks (v3) → New Webhook: URL " + orDefault(want, "https://YOUR-OPSBOT"+pagerduty.WebhookPath) +
		", scope Account (or each service opsbot follows), then put the signing secret it shows in PAGERDUTY_WEBHOOK_SECRET"
	var subs []pagerduty.WebhookSubscription
	err := d.within(ctx, func(ctx context.Context) (err error) {
		subs, err = d.PagerDuty.WebhookSubscriptions(ctx)
		return err
	})
	if err != nil {
		c := Check{Area: area, Name: name, Status: StatusFail, Detail: "could not list webhook subscriptions: " + err.Error()}
		if pagerduty.IsUnauthorized(err) {
			c.Fix = "use a REST API key that may read webhook subscriptions (a full-access key; read-only keys may not)"
		}
		d.add(c)
		return
	}
	var ours []pagerduty.WebhookSubscription
	for _, s := range subs {
		if !s.Active {
			continue
		}
		if want != "" && s.URL == want {
			ours = append(ours, s)
		} else if want == "" {
			if u, err := url.Parse(s.URL); err == nil && u.Path == pagerduty.WebhookPath {
				ours = append(ours, s)
			}
		}
	}
	if len(ours) == 0 {
		detail := fmt.Sprintf("none of the %d active subscriptions delivers to %s", countActive(subs), orDefault(want, "a URL ending in "+pagerduty.WebhookPath))
		d.add(Check{Area: area, Name: name, Status: StatusFail, Detail: detail, Fix: fix})
		return
	}
	var uncovered []string
	for _, svc := range services {
		if !covered(ours, svc.id) {
			uncovered = append(uncovered, svc.id)
		}
	}
	c := Check{Area: area, Name: name, Status: StatusOK, Detail: ours[0].ID + " delivers to " + ours[0].URL}
	switch {
	case len(uncovered) > 0:
		c.Status = StatusFail
		c.Detail += ", but not the events of " + strings.Join(uncovered, ", ")
		c.Fix = "make the subscription account-wide, or add a subscription for each of " + strings.Join(uncovered, ", ")
	case len(d.Env.PagerDutyWebhookSecrets) == 0:
		c.Status = StatusFail
		c.Detail += ", but PAGERDUTY_WEBHOOK_SECRET is not set: opsbot refuses every webhook"
		c.Fix = "set PAGERDUTY_WEBHOOK_SECRET to the subscription's signing secret (shown once, when it was created; create a new subscription if it is lost)"
	case want == "":
		c.Status = StatusWarn
		c.Detail += " (not checked to be this opsbot)"
		c.Fix = "pass --url https://YOUR-OPSBOT to check the subscription points at this installation"
	}
	d.add(c)
}

// covered reports whether a subscription sends the service's events. A
// team-wide one is taken to (which services a team has is not asked).
func covered(subs []pagerduty.WebhookSubscription, service string) bool {
	for _, s := range subs {
		if s.FilterType == "account_reference" || s.FilterType == "team_reference" || (s.FilterType == "service_reference" && s.FilterID == service) {
			return true
		}
	}
	return false
}

func countActive(subs []pagerduty.WebhookSubscription) int {
	n := 0
	for _, s := range subs {
		if s.Active {
			n++
		}
	}
	return n
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
