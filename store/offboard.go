package store

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opsbot/opsbot/workflows"
	"github.com/opsbot/opsbot/workflows/offboard"
)

var _ offboard.Tx = (*tx)(nil)

const keyColumns = `id, person, person_slack, person_email, teams, account, region, name, key_pair_id, fingerprint, why,
	instances, state, result, deleted_slack, deleted_email, created_at, updated_at`

func keyArgs(k *offboard.Key) ([]any, error) {
	ins, err := json.Marshal(k.Instances)
	if err != nil {
		return nil, fmt.Errorf("key pair %s: %w", k.ID, err)
	}
	return []any{k.ID, strings.ToLower(k.Person.Ref()), k.Person.SlackID, k.Person.Email, strings.Join(k.Teams, ","), k.Account, k.Region,
		k.Name, k.KeyPairID, k.Fingerprint, k.Why, string(ins), string(k.State), k.Result, k.DeletedBy.SlackID, k.DeletedBy.Email,
		unixNanos(k.CreatedAt), unixNanos(k.UpdatedAt)}, nil
}

// AddKey records a key pair found for a departed person; the same
// person, account, region and name again is workflows.ErrDuplicate.
func (t *tx) AddKey(k *offboard.Key) error {
	args, err := keyArgs(k)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO offboard_keys (`+keyColumns+`) VALUES (`+placeholders(len(args))+`) ON CONFLICT DO NOTHING`, args...)
	if err != nil {
		return fmt.Errorf("add key pair %s: %w", k.Name, err)
	}
	return mustChange(res, fmt.Sprintf("add key pair %s", k.Name), workflows.ErrDuplicate)
}

// SaveKey updates where a key pair is.
func (t *tx) SaveKey(k *offboard.Key) error {
	res, err := t.exec(`UPDATE offboard_keys SET state = ?, result = ?, deleted_slack = ?, deleted_email = ?, updated_at = ? WHERE id = ?`,
		string(k.State), k.Result, k.DeletedBy.SlackID, k.DeletedBy.Email, unixNanos(k.UpdatedAt), k.ID)
	if err != nil {
		return fmt.Errorf("save key pair %s: %w", k.ID, err)
	}
	return mustChange(res, fmt.Sprintf("save key pair %s", k.ID), workflows.ErrNotFound)
}

// Key returns one key pair found.
func (t *tx) Key(id string) (*offboard.Key, error) {
	ks, err := t.keys(`WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(ks) == 0 {
		return nil, fmt.Errorf("key pair %s: %w", id, workflows.ErrNotFound)
	}
	return ks[0], nil
}

// Keys lists the key pairs found for a person, oldest first.
func (t *tx) Keys(person string) ([]*offboard.Key, error) {
	return t.keys(`WHERE person = ? ORDER BY created_at, id`, strings.ToLower(person))
}

func (t *tx) keys(where string, args ...any) ([]*offboard.Key, error) {
	rows, err := t.query(`SELECT `+keyColumns+` FROM offboard_keys `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read key pairs: %w", err)
	}
	defer rows.Close()
	var out []*offboard.Key
	for rows.Next() {
		k := &offboard.Key{}
		var person, teams, ins, state string
		var created, updated int64
		if err := rows.Scan(&k.ID, &person, &k.Person.SlackID, &k.Person.Email, &teams, &k.Account, &k.Region, &k.Name, &k.KeyPairID,
			&k.Fingerprint, &k.Why, &ins, &state, &k.Result, &k.DeletedBy.SlackID, &k.DeletedBy.Email, &created, &updated); err != nil {
			return nil, fmt.Errorf("read key pairs: %w", err)
		}
		if teams != "" {
			k.Teams = strings.Split(teams, ",")
		}
		if err := json.Unmarshal([]byte(ins), &k.Instances); err != nil {
			return nil, fmt.Errorf("key pair %s: instances: %w", k.ID, err)
		}
		k.State = offboard.KeyState(state)
		k.CreatedAt, k.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read key pairs: %w", err)
	}
	return out, nil
}
