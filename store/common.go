package store

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// NextID returns the next human ID for prefix ("srv" gives "srv-1", then
// "srv-2"). On SQLite the number is taken inside the transaction, so a
// rolled-back transaction gives its number back and IDs have no gaps. On
// PostgreSQL it comes from a sequence, which does not give it back; a
// run of an Update that PostgreSQL aborted and the store runs again
// takes the same numbers again (numbers.go).
func (t *tx) NextID(prefix string) (string, error) {
	if prefix == "" || strings.HasPrefix(prefix, "#") {
		return "", fmt.Errorf("next id: bad prefix %q", prefix)
	}
	take := func() (int64, error) { return nextSeq(t.ctx, t.db, t.tx, prefix) }
	var n int64
	var err error
	if nums, ok := t.ctx.Value(numbersKey{}).(*numbers); ok {
		n, err = nums.next(prefix, take)
	} else {
		n, err = take()
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%d", prefix, n), nil
}

// Audit appends an entry to the audit log.
func (t *tx) Audit(e workflows.AuditEntry) error {
	id, err := nextSeq(t.ctx, t.db, t.tx, seqAudit)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO audit (id, at, actor, action, subject, reason, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, unixNanos(e.At), e.Actor, e.Action, e.Subject, e.Reason, e.Detail)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.Subject, err)
	}
	return nil
}

// MarkSent records that the message named key went out. It returns false,
// and changes nothing, when key was recorded before.
func (t *tx) MarkSent(key string, at time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO sent (sent_key, at) VALUES (?, ?)
		ON CONFLICT (sent_key) DO NOTHING`, key, unixNanos(at))
	if err != nil {
		return false, fmt.Errorf("mark %s sent: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark %s sent: %w", key, err)
	}
	return n == 1, nil
}

// Sent reports whether MarkSent recorded key.
func (t *tx) Sent(key string) (bool, error) {
	var n int
	if err := t.queryRow(`SELECT COUNT(*) FROM sent WHERE sent_key = ?`, key).Scan(&n); err != nil {
		return false, fmt.Errorf("look up %s: %w", key, err)
	}
	return n > 0, nil
}

// Forget removes a record MarkSent made, so the thing it named can happen
// again (an event whose handling failed, which Slack will retry).
func (t *tx) Forget(key string) error {
	if _, err := t.exec(`DELETE FROM sent WHERE sent_key = ?`, key); err != nil {
		return fmt.Errorf("forget %s: %w", key, err)
	}
	return nil
}

// ForgetBefore removes the records MarkSent made under keys starting with
// prefix before the given time. The prefix is matched literally: it must
// not hold LIKE's wildcards.
func (t *tx) ForgetBefore(prefix string, before time.Time) (int64, error) {
	if prefix == "" || strings.ContainsAny(prefix, `%_\`) {
		return 0, fmt.Errorf("forget %q before %s: the prefix must be plain text", prefix, before)
	}
	res, err := t.exec(`DELETE FROM sent WHERE sent_key LIKE ? AND at < ?`, prefix+"%", unixNanos(before))
	if err != nil {
		return 0, fmt.Errorf("forget %s* before %s: %w", prefix, before, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("forget %s* before %s: %w", prefix, before, err)
	}
	return n, nil
}

// MessageRef returns where the message with this key was posted.
func (t *tx) MessageRef(key string) (workflows.MessageRef, bool, error) {
	var ref workflows.MessageRef
	err := t.queryRow(`SELECT channel, ts FROM message_refs WHERE msg_key = ?`, key).Scan(&ref.Channel, &ref.TS)
	if errors.Is(err, sql.ErrNoRows) {
		return workflows.MessageRef{}, false, nil
	}
	if err != nil {
		return workflows.MessageRef{}, false, fmt.Errorf("read message ref %s: %w", key, err)
	}
	return ref, true, nil
}

// PutMessageRef records (or moves) where the message with this key lives.
func (t *tx) PutMessageRef(key string, ref workflows.MessageRef, at time.Time) error {
	_, err := t.exec(`INSERT INTO message_refs (msg_key, channel, ts, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (msg_key) DO UPDATE SET channel = excluded.channel, ts = excluded.ts, at = excluded.at`,
		key, ref.Channel, ref.TS, unixNanos(at))
	if err != nil {
		return fmt.Errorf("save message ref %s: %w", key, err)
	}
	return nil
}

// CachedPrice returns the price cached under key if it was cached at or
// after notBefore.
func (t *tx) CachedPrice(key string, notBefore time.Time) (workflows.Money, bool, error) {
	var price, at int64
	err := t.queryRow(`SELECT price, at FROM prices WHERE price_key = ?`, key).Scan(&price, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read cached price %s: %w", key, err)
	}
	if fromNanos(at).Before(notBefore) {
		return 0, false, nil
	}
	return workflows.Money(price), true, nil
}

// PutPrice caches a price under key, replacing an older one.
func (t *tx) PutPrice(key string, price workflows.Money, at time.Time) error {
	_, err := t.exec(`INSERT INTO prices (price_key, price, at) VALUES (?, ?, ?)
		ON CONFLICT (price_key) DO UPDATE SET price = excluded.price, at = excluded.at`,
		key, int64(price), unixNanos(at))
	if err != nil {
		return fmt.Errorf("cache price %s: %w", key, err)
	}
	return nil
}

// CachedName returns the name cached under key if it was cached at or
// after notBefore. An empty value is a lookup that found nothing.
func (t *tx) CachedName(key string, notBefore time.Time) (string, bool, error) {
	var value string
	var at int64
	err := t.queryRow(`SELECT value, at FROM names WHERE name_key = ?`, key).Scan(&value, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read cached name %s: %w", key, err)
	}
	if fromNanos(at).Before(notBefore) {
		return "", false, nil
	}
	return value, true, nil
}

// PutName caches a name under key, replacing an older one.
func (t *tx) PutName(key, value string, at time.Time) error {
	_, err := t.exec(`INSERT INTO names (name_key, value, at) VALUES (?, ?, ?)
		ON CONFLICT (name_key) DO UPDATE SET value = excluded.value, at = excluded.at`,
		key, value, unixNanos(at))
	if err != nil {
		return fmt.Errorf("cache name %s: %w", key, err)
	}
	return nil
}
