package config

// linkIncidents resolves the team names in `incidents:` and completes the
// service map: incidents.services entries must name declared teams;
// default_team defaults to the first team; and a team's own
// pagerduty_service routes that service's events to the team unless
// incidents.services says otherwise, which is reported as a contradiction.
// A service claimed by two teams and not listed under incidents.services
// is reported too, since its events could go to either.
func linkIncidents(d *decoder, b *build) {
	decl, pol := b.incidents, b.cfg.Catalog.Incidents
	if decl == nil || pol == nil {
		return
	}
	listed := map[string]serviceDecl{}
	for _, s := range decl.services {
		if s.team.name == "" || !checkTeamRef(d, b, s.team) || s.id == "" {
			continue
		}
		pol.Services[s.id] = s.team.name
		listed[s.id] = s
	}
	switch {
	case decl.defaultTeam.name != "":
		if checkTeamRef(d, b, decl.defaultTeam) {
			pol.DefaultTeam = decl.defaultTeam.name
		}
	case len(b.teams) > 0:
		pol.DefaultTeam = b.teams[0].t.Name
	}
	claimed := map[string]*teamDecl{}
	for _, td := range b.teams {
		svc := td.t.PagerDutyService
		if svc == "" {
			continue
		}
		if s, ok := listed[svc]; ok {
			if s.team.name != td.t.Name {
				d.problemAt(td.service.path, td.service.line,
					"service %s is mapped to team %q at %s (line %d): a team's own service must send its events to the team",
					svc, s.team.name, s.at.path, s.at.line)
			}
			continue
		}
		if first, ok := claimed[svc]; ok {
			d.problemAt(td.service.path, td.service.line,
				"service %s is also the pagerduty_service of team %q (line %d): list it under incidents.services to say which team its events go to",
				svc, first.t.Name, first.service.line)
			continue
		}
		claimed[svc] = td
		pol.Services[svc] = td.t.Name
	}
}
