package offboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Place is one account and region where opsbot looks for key pairs.
type Place struct {
	Account string // empty: the default account
	Region  string
}

// KeyPair is an EC2 key pair as the cloud describes it.
type KeyPair struct {
	ID          string
	Name        string
	Fingerprint string
	Tags        map[string]string
	Created     time.Time
}

// KeyInstance is an instance launched with a key pair.
type KeyInstance struct {
	ID      string
	State   string
	KeyName string
	Tags    map[string]string
}

// KeyPairs is what offboarding needs from the cloud. DeleteKeyPair
// returns workflows.ErrDryRun in dry-run mode and nil for a key pair
// that is gone already.
type KeyPairs interface {
	KeyPairs(ctx context.Context, account, region string) ([]KeyPair, error)
	InstancesWithKeys(ctx context.Context, account, region string, names []string) ([]KeyInstance, error)
	DeleteKeyPair(ctx context.Context, account, region, id string) error
}

// KeyState is where a listed key pair is.
type KeyState string

// The states of a listed key pair.
const (
	KeyListed   KeyState = "listed"
	KeyDeleting KeyState = "deleting"
	KeyDeleted  KeyState = "deleted"
	KeyDryRun   KeyState = "dry_run"
	KeyFailed   KeyState = "failed"
)

// Key is a key pair found for a departed person, with the instances
// launched with it.
type Key struct {
	ID          string // "key-3", opsbot's
	Person      workflows.Person
	Teams       []string // the person's teams: their approvers decide
	Account     string
	Region      string
	Name        string
	KeyPairID   string
	Fingerprint string
	Why         string // "tagged Owner=dana@example.com", "named after them"
	Instances   []KeyInstance
	State       KeyState
	Result      string
	DeletedBy   workflows.Person
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Tx is what offboarding keeps besides the kernel's records.
type Tx interface {
	workflows.Tx
	// AddKey records a key pair found; one already recorded for the same
	// person, account, region and name returns workflows.ErrDuplicate.
	AddKey(k *Key) error
	SaveKey(k *Key) error
	// Key returns workflows.ErrNotFound when there is none.
	Key(id string) (*Key, error)
	// Keys lists the key pairs found for a person (by ref), oldest first.
	Keys(person string) ([]*Key, error)
}

func txOf(tx workflows.Tx) (Tx, error) { return workflows.TxAs[Tx](tx, "offboarding's key pairs") }

func (s *Service) update(ctx context.Context, fn func(Tx) error) error {
	return workflows.UpdateAs(ctx, s.Store, "offboarding's key pairs", s.Wake, fn)
}

// Jobs.
const (
	JobKeyLookup = "offboard.keys"       // payload: lookup JSON
	JobKeyDelete = "offboard.key.delete" // payload: "key-3"
)

// ActKeyDelete is the "Delete key pair" button; value: "key-3".
const ActKeyDelete = "offboard.key.delete"

// Handlers are offboarding's jobs.
func (s *Service) Handlers() map[string]workflows.JobHandler {
	return map[string]workflows.JobHandler{JobKeyLookup: s.lookupKeys, JobKeyDelete: s.deleteKey}
}

type lookup struct {
	Person workflows.Person `json:"person"`
	Teams  []string         `json:"teams"`
}

func (s *Service) queueKeyLookup(tx workflows.Tx, rep *Report, now time.Time) error {
	if s.Keys == nil {
		return nil
	}
	b, err := json.Marshal(lookup{Person: rep.Person, Teams: rep.Teams})
	if err != nil {
		return err
	}
	return tx.Enqueue(workflows.Job{Kind: JobKeyLookup, Key: JobKeyLookup + ":" + strings.ToLower(rep.Person.Ref()), Payload: string(b), RunAt: now})
}

// Theirs says why kp belongs to p, or "" when it does not: a tag whose
// value is their email or Slack ID (Owner, owner, CreatedBy, …), or a
// name that is their email, the part before its @, or starts with that
// part and a separator ("dana-laptop", "dana.old"). A pure function.
func Theirs(p workflows.Person, kp KeyPair) string {
	for _, k := range slices.Sorted(maps.Keys(kp.Tags)) {
		v := strings.TrimSpace(kp.Tags[k])
		if (p.Email != "" && strings.EqualFold(v, p.Email)) || (p.SlackID != "" && v == p.SlackID) {
			return "tagged " + k + "=" + v
		}
	}
	name := strings.ToLower(kp.Name)
	if p.Email != "" {
		email := strings.ToLower(p.Email)
		local, _, _ := strings.Cut(email, "@")
		if name == email || name == local {
			return "named after them"
		}
		for _, sep := range []string{"-", "_", ".", "@"} {
			if len(local) >= 3 && strings.HasPrefix(name, local+sep) {
				return "named after them"
			}
		}
	}
	return ""
}

// lookupKeys lists the departed person's key pairs, and the instances
// launched with them, in every place, and records them once.
func (s *Service) lookupKeys(ctx context.Context, j workflows.Job) error {
	var l lookup
	if err := json.Unmarshal([]byte(j.Payload), &l); err != nil {
		return workflows.Permanent(fmt.Errorf("decode key lookup: %w", err))
	}
	var found []*Key
	var unread []string
	for _, pl := range s.Regions {
		kps, err := s.Keys.KeyPairs(ctx, pl.Account, pl.Region)
		if err != nil {
			if !workflows.IsPermanent(err) {
				return fmt.Errorf("list key pairs in %s: %w", placeWords(pl), err)
			}
			unread = append(unread, placeWords(pl)+": "+err.Error())
			continue
		}
		var names []string
		byName := map[string]*Key{}
		for _, kp := range kps {
			why := Theirs(l.Person, kp)
			if why == "" {
				continue
			}
			k := &Key{Person: l.Person, Teams: l.Teams, Account: pl.Account, Region: pl.Region, Name: kp.Name,
				KeyPairID: kp.ID, Fingerprint: kp.Fingerprint, Why: why, State: KeyListed}
			found = append(found, k)
			names = append(names, kp.Name)
			byName[kp.Name] = k
		}
		if len(names) == 0 {
			continue
		}
		ins, err := s.Keys.InstancesWithKeys(ctx, pl.Account, pl.Region, names)
		if err != nil {
			if !workflows.IsPermanent(err) {
				return fmt.Errorf("list instances with their keys in %s: %w", placeWords(pl), err)
			}
			unread = append(unread, placeWords(pl)+" (instances): "+err.Error())
			continue
		}
		for _, in := range ins {
			if k := byName[in.KeyName]; k != nil {
				k.Instances = append(k.Instances, in)
			}
		}
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		for _, k := range found {
			k.CreatedAt, k.UpdatedAt = now, now
			id, err := tx.NextID("key")
			if err != nil {
				return err
			}
			k.ID = id
			if err := tx.AddKey(k); err != nil && !errors.Is(err, workflows.ErrDuplicate) {
				return err
			} else if err == nil {
				if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: "keypair.found", Subject: k.ID, Reason: "offboarding " + l.Person.String(),
					Detail: fmt.Sprintf("%s %s in %s: %s; %d instance(s)", k.Name, k.KeyPairID, placeWords(Place{k.Account, k.Region}), k.Why, len(k.Instances))}); err != nil {
					return err
				}
			}
		}
		return s.showKeys(tx, l.Person, l.Teams, unread, now)
	})
}

func placeWords(p Place) string {
	if p.Account == "" {
		return p.Region
	}
	return p.Region + " of account " + p.Account
}

// showKeys (re)draws the key pairs' message in the thread of each team's
// report.
func (s *Service) showKeys(tx Tx, p workflows.Person, teams, unread []string, now time.Time) error {
	keys, err := tx.Keys(strings.ToLower(p.Ref()))
	if err != nil {
		return err
	}
	for _, name := range teams {
		t, ok := s.Servers.Catalog.Team(name)
		if !ok {
			continue
		}
		if err := workflows.EnqueueMessage(tx, keysMessage(t, p, keys, unread, s.DryRun, now), now); err != nil {
			return err
		}
	}
	return nil
}

// keysMessage lists a departed person's key pairs in the thread of the
// hand-over report, each with a Delete button while it is listed.
func keysMessage(t *workflows.Team, p workflows.Person, keys []*Key, unread []string, dry bool, now time.Time) workflows.Message {
	m := workflows.Message{Key: "offboard-keys:" + strings.ToLower(p.Ref()) + ":" + t.Name, Thread: reportKey(p, t.Name), Channel: t.ApprovalsChannel,
		Title: "EC2 key pairs of " + workflows.Mention(p.Ref())}
	var lines []string
	for _, k := range keys {
		line := fmt.Sprintf("• `%s` (%s, %s): %s — %s", workflows.UserText(k.Name), k.KeyPairID, placeWords(Place{k.Account, k.Region}), k.Why, k.stateWords())
		for _, in := range k.Instances {
			owner := "not opsbot's: listed only, opsbot does not touch it"
			if r := in.Tags[workflows.TagRequest]; r != "" && in.Tags[workflows.TagManaged] == "true" {
				owner = "opsbot's " + r
			}
			line += fmt.Sprintf("\n    launched with it: %s (%s, %s)", in.ID, in.State, owner)
		}
		lines = append(lines, line)
		if k.State == KeyListed || k.State == KeyFailed {
			m.Actions = append(m.Actions, workflows.Action{ID: ActKeyDelete, Label: "Delete key pair " + k.Name, Value: k.ID, Style: workflows.StyleDanger,
				Confirm: &workflows.Confirm{Title: "Delete " + k.Name + "?", Text: fmt.Sprintf("The key pair %s (%s) is deleted in EC2: nobody can launch with it again. Instances launched with it keep running and keep the public key they have. This cannot be undone.", k.Name, k.KeyPairID),
					Yes: "Delete", No: "Keep it"}})
		}
	}
	if len(keys) == 0 {
		lines = append(lines, "None found: no key pair is tagged with their email or Slack ID or named after them.")
	}
	for _, u := range unread {
		lines = append(lines, "Could not look in "+u)
	}
	m.Text = strings.Join(lines, "\n")
	m.Note = "One of team " + t.Name + "'s approvers deletes a key pair · as of " + t.LocalTime(now)
	if dry {
		m.Note += " · Dry run: opsbot only checks deletions with EC2 and makes none"
	}
	return m
}

func (k *Key) stateWords() string {
	switch k.State {
	case KeyDeleting:
		return "being deleted, asked by " + workflows.Mention(k.DeletedBy.Ref())
	case KeyDeleted:
		return "deleted by " + workflows.Mention(k.DeletedBy.Ref())
	case KeyDryRun:
		return "checked (dry run), not deleted; asked by " + workflows.Mention(k.DeletedBy.Ref())
	case KeyFailed:
		return "could not be deleted: " + k.Result
	}
	return "listed for revocation"
}

// DeleteKey is the "Delete key pair" button: one of the teams' approvers
// (not the person who left) has the key pair deleted, once, by a job in
// its account. A refusal is audited and returned as a *workflows.Error.
func (s *Service) DeleteKey(ctx context.Context, actor workflows.Person, id string) (*Key, error) {
	var out *Key
	var refused error
	err := s.update(ctx, func(tx Tx) error {
		out, refused = nil, nil
		now := s.Clock.Now()
		k, err := tx.Key(strings.TrimSpace(id))
		if errors.Is(err, workflows.ErrNotFound) {
			return workflows.Errorf(workflows.ENotFound, "There is no key pair %s in opsbot's records.", id)
		}
		if err != nil {
			return err
		}
		out = k
		refuse := func(reason string, ask []string) error {
			e := workflows.Errorf(workflows.EForbidden, "%s", reason)
			e.People = ask
			refused = e
			return tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "keypair.delete.refuse", Subject: k.ID, Reason: reason, Detail: k.Name})
		}
		if why := mayDelete(s.Servers.Catalog, k, actor); why != "" {
			var ask []string
			for _, name := range k.Teams {
				if t, ok := s.Servers.Catalog.Team(name); ok {
					ask = append(ask, t.Approvers...)
				}
			}
			return refuse(why, ask)
		}
		gone, err := workflows.Departed(tx, actor)
		if err != nil {
			return err
		}
		if gone {
			return refuse(workflows.DepartedAnswer(actor).Message, nil)
		}
		if k.State != KeyListed && k.State != KeyFailed {
			refused = workflows.Errorf(workflows.EConflict, "Key pair %s is %s already; nothing more was done.", k.Name, k.stateWords())
			return nil
		}
		k.State, k.DeletedBy, k.Result, k.UpdatedAt = KeyDeleting, actor, "", now
		if err := tx.SaveKey(k); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: actor.String(), Action: "keypair.delete", Subject: k.ID, Reason: "offboarding " + k.Person.String(),
			Detail: fmt.Sprintf("%s %s in %s", k.Name, k.KeyPairID, placeWords(Place{k.Account, k.Region}))}); err != nil {
			return err
		}
		if err := tx.Enqueue(workflows.Job{Kind: JobKeyDelete, Key: JobKeyDelete + ":" + k.ID, Payload: k.ID, RunAt: now}); err != nil {
			return err
		}
		return s.showKeys(tx, k.Person, k.Teams, nil, now)
	})
	if err != nil {
		return nil, err
	}
	return out, refused
}

// mayDelete says why p may not delete k, or "": only an approver of one
// of the departed person's teams, never the departed person themselves.
// A pure function: the table tests call it.
func mayDelete(c *workflows.Catalog, k *Key, p workflows.Person) string {
	if workflows.SamePerson(k.Person, p) {
		return "You cannot delete your own key pair from your offboarding; one of your team's approvers does."
	}
	for _, name := range k.Teams {
		if t, ok := c.Team(name); ok && t.IsApprover(p) {
			return ""
		}
	}
	return fmt.Sprintf("Only the approvers of team %s (%s's team) delete their key pairs.", strings.Join(k.Teams, ", "), workflows.Mention(k.Person.Ref()))
}

// deleteKey deletes one key pair in EC2 and records the outcome.
func (s *Service) deleteKey(ctx context.Context, j workflows.Job) error {
	var k *Key
	if err := s.update(ctx, func(tx Tx) error {
		var err error
		k, err = tx.Key(j.Payload)
		return err
	}); err != nil {
		return fmt.Errorf("load key pair %s: %w", j.Payload, err)
	}
	if k.State != KeyDeleting {
		return nil // done already: a replayed job
	}
	err := s.Keys.DeleteKeyPair(ctx, k.Account, k.Region, k.KeyPairID)
	state, result, action := KeyDeleted, "", "ec2.keypair.delete"
	switch {
	case errors.Is(err, workflows.ErrDryRun):
		state, action = KeyDryRun, "ec2.keypair.delete.dryrun"
	case err != nil && workflows.IsPermanent(err):
		state, result, action = KeyFailed, err.Error(), "ec2.keypair.delete.failed"
	case err != nil:
		return fmt.Errorf("delete key pair %s (%s): %w", k.Name, k.KeyPairID, err)
	}
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.Key(k.ID)
		if err != nil {
			return err
		}
		if cur.State != KeyDeleting {
			return nil
		}
		cur.State, cur.Result, cur.UpdatedAt = state, result, now
		if err := tx.SaveKey(cur); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: action, Subject: cur.ID, Reason: "asked by " + cur.DeletedBy.String(),
			Detail: fmt.Sprintf("%s %s in %s %s", cur.Name, cur.KeyPairID, placeWords(Place{cur.Account, cur.Region}), result)}); err != nil {
			return err
		}
		return s.showKeys(tx, cur.Person, cur.Teams, nil, now)
	})
}

// GiveUp records a deletion that kept failing.
func (s *Service) GiveUp(ctx context.Context, j workflows.Job, cause error) {
	if j.Kind != JobKeyDelete {
		return
	}
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		k, err := tx.Key(j.Payload)
		if err != nil || k.State != KeyDeleting {
			return err
		}
		k.State, k.Result, k.UpdatedAt = KeyFailed, "EC2 kept failing ("+cause.Error()+")", now
		if err := tx.SaveKey(k); err != nil {
			return err
		}
		return s.showKeys(tx, k.Person, k.Teams, nil, now)
	})
	if err != nil {
		s.Log.ErrorContext(ctx, "record a failed key pair deletion", "key", j.Payload, "err", err)
	}
}

// Places are where key pairs are looked for: every configured account
// (and the default one) in each of its regions (an account's own list,
// else every region a template uses), once each, in config order.
func Places(c *workflows.Catalog) []Place {
	var regions []string
	for _, t := range c.Templates {
		if t.Region != "" && !slices.Contains(regions, t.Region) {
			regions = append(regions, t.Region)
		}
	}
	var out []Place
	add := func(p Place) {
		if p.Region != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for _, r := range regions {
		add(Place{Region: r})
	}
	for _, a := range c.Accounts {
		rs := a.Regions
		if len(rs) == 0 {
			rs = regions
		}
		for _, r := range rs {
			add(Place{Account: a.Name, Region: r})
		}
	}
	return out
}
