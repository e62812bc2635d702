package workflows

import (
	"fmt"
	"maps"
	"strings"
	"time"
)

// Snapshot is the launch of r as the template and the team's policy
// describe it now, when the request is made: everything but the lease-end
// tag and the client token, which are fixed at launch. It is stored in
// the request, shown to approvers, and launched as it is: a template
// edited after the request changes nothing about it.
func Snapshot(r *ServerRequest, tpl *Template, team *Team) *LaunchSpec {
	spec := LaunchSpecFor(r, tpl, team, time.Time{})
	delete(spec.Tags, TagLeaseEnd)
	spec.ClientToken = ""
	return &spec
}

// launchOf returns the launch of r ending its lease at leaseEnd: the
// snapshot taken when it was requested, or, for a request made before
// snapshots were kept, the template as it is now.
func (s *Servers) launchOf(r *ServerRequest, team *Team, leaseEnd time.Time) (LaunchSpec, error) {
	if r.Spec == nil {
		tpl, ok := s.Catalog.Template(r.Template)
		if !ok {
			return LaunchSpec{}, Errorf(EConflict, "Template %s of %s is no longer in the config.", r.Template, r.ID)
		}
		return LaunchSpecFor(r, tpl, team, leaseEnd), nil
	}
	spec := *r.Spec
	spec.Tags = maps.Clone(r.Spec.Tags)
	if spec.Tags == nil {
		spec.Tags = map[string]string{}
	}
	spec.SecurityGroups = append([]string(nil), r.Spec.SecurityGroups...)
	spec.RequestID, spec.ClientToken = r.ID, r.ClientToken
	spec.Tags[TagLeaseEnd] = leaseEnd.UTC().Format(time.RFC3339)
	return spec, nil
}

// snapshotRefusal applies the team's current policy to the launch r was
// asked and approved for, and says why it no longer passes; "" when it
// does. The config may have changed since the request (a reload): what
// was approved is launched only if today's policy still allows it.
func (s *Servers) snapshotRefusal(team *Team, r *ServerRequest) string {
	tpl, ok := s.Catalog.Template(r.Template)
	if !ok {
		return fmt.Sprintf("the template %s is no longer in opsbot's config", r.Template)
	}
	if !allowsTemplate(team, tpl) {
		return fmt.Sprintf("team %s may no longer use the template %s", team.Name, tpl.Name)
	}
	spec := LaunchSpecFor(r, tpl, team, time.Time{})
	if r.Spec != nil {
		spec = *r.Spec
	}
	as := &Template{Name: r.Template, Region: spec.Region, InstanceType: spec.InstanceType, Tags: spec.Tags}
	for _, err := range []error{checkPlacement(team, as), checkIntegration(team, as)} {
		if err != nil {
			return "the policy changed: " + strings.TrimSuffix(ErrorMessage(err), ".")
		}
	}
	if lc := Lifecycle(team, tpl); lc.MaxLease > 0 && r.Duration > lc.MaxLease {
		return fmt.Sprintf("the policy changed: its lease of %s is longer than the longest now allowed for %s (%s)",
			FormatDuration(r.Duration), tpl.Name, FormatDuration(lc.MaxLease))
	}
	return ""
}

// voidBeforeLaunch closes an approved request whose launch no longer
// passes policy: nothing is launched, the commitment is given back, the
// owner is told why and the approval's message says it was voided.
func (s *Servers) voidBeforeLaunch(tx Tx, team *Team, r *ServerRequest, why string, now time.Time) error {
	if err := r.Move(StateFailed, "voided before launch: "+why, now); err != nil {
		return err
	}
	if err := tx.SaveRequest(r); err != nil {
		return err
	}
	if err := tx.Audit(AuditEntry{At: now, Actor: "opsbot", Action: "request.void", Subject: r.ID, Reason: why}); err != nil {
		return err
	}
	if err := refundUnused(tx, team, r, now); err != nil {
		return err
	}
	approved, err := tx.Approvals(ApprovalFilter{RequestID: r.ID, States: []ApprovalState{ApprovalApproved}})
	if err != nil {
		return err
	}
	budget, err := budgetOf(tx, team, now)
	if err != nil {
		return err
	}
	for _, a := range approved {
		if a.Kind != ApproveLaunch {
			continue
		}
		a.State, a.DecidedAt, a.Note = ApprovalExpired, now, "voided before launch: "+why
		if err := tx.SaveApproval(a); err != nil {
			return err
		}
		if err := enqueueMessage(tx, approvalMessage(team, r, a, nil, budget, now), now); err != nil {
			return err
		}
	}
	return enqueueMessage(tx, leaseMessage(team, r, budget, "Not launched: "+why+". The approval was voided and the budget given back; request it again if you still need it.", now), now)
}
