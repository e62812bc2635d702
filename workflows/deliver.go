package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Deliver returns the job handler that sends queued messages through n.
// A message with a key that was posted before is edited in place, and no
// message is posted twice: one whose earlier post was not recorded (a
// crash, a lost reply) is found by its DeliveryID first.
func Deliver(store Store, n Notifier, clock Clock) JobHandler {
	return func(ctx context.Context, j Job) error {
		m, err := DecodeMessage(j.Payload)
		if err != nil {
			return Permanent(err)
		}
		var ref, parent MessageRef
		var posted, hasParent bool
		if err := store.View(ctx, func(tx Tx) error {
			if m.Key != "" {
				if ref, posted, err = tx.MessageRef(m.Key); err != nil {
					return err
				}
			}
			if m.Thread != "" {
				if parent, hasParent, err = tx.MessageRef(m.Thread); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("look up message %s: %w", m.Key, err)
		}
		if m.Thread != "" && !hasParent {
			return fmt.Errorf("thread %s is not posted yet", m.Thread)
		}
		if posted {
			err := n.Update(ctx, ref, m)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ErrMessageGone) {
				return fmt.Errorf("update message %s: %w", m.Key, err)
			}
			// Deleted in Slack: post it again, where it belongs, and
			// record the new one.
		}
		// A crash may have come between an earlier post and recording it
		// (or the job's Done): look before posting again, but only then.
		// Looking costs a conversations.history call (Slack's Tier 3),
		// which in a storm of incidents held every channel's set-up back.
		// An unkeyed message's job runs again only as a further attempt. A
		// keyed message's job may have been replaced by a newer version
		// whose attempts start again at 0, so its post attempt is marked,
		// committed before chat.postMessage; a mark left by an earlier
		// attempt says it may have posted.
		look := j.Attempts > 0
		marked := false
		if m.Key != "" {
			var fresh bool
			if err := store.Update(ctx, func(tx Tx) (err error) {
				fresh, err = tx.MarkSent(postingKey(m.Key), clock.Now())
				return err
			}); err != nil {
				return fmt.Errorf("mark the post of message %s: %w", m.Key, err)
			}
			look = look || !fresh
			marked = true
		}
		if look {
			found, ok, err := n.FindPosted(ctx, m, parent)
			if err != nil {
				return fmt.Errorf("look for message %s: %w", m.DeliveryID(), err)
			}
			if ok {
				if m.Key == "" {
					return nil
				}
				// It may show an older version of a keyed message.
				if err := n.Update(ctx, found, m); err != nil {
					return fmt.Errorf("update message %s: %w", m.Key, err)
				}
				return recordPosted(ctx, store, m.Key, found, clock.Now())
			}
		}
		ref, err = n.Post(ctx, m, parent)
		if err != nil {
			if marked && !look && !attemptCalled(ctx) {
				// Held back before it reached Slack (a rate limit's slot):
				// nothing can have been posted, so its next run need not
				// look. Should the mark stay, it costs one look.
				_ = store.Update(ctx, func(tx Tx) error { return tx.Forget(postingKey(m.Key)) })
			}
			return fmt.Errorf("post message %s to %s: %w", m.Key, strings.TrimSpace(m.Channel+" "+m.User), err)
		}
		if m.Key == "" {
			return nil
		}
		return recordPosted(ctx, store, m.Key, ref, clock.Now())
	}
}

// postingKey is the mark (MarkSent) that a post of the keyed message key
// was attempted and not yet recorded.
func postingKey(key string) string { return "posting:" + key }

// recordPosted records where the keyed message lives and, in the same
// transaction, drops its post attempt's mark.
func recordPosted(ctx context.Context, store Store, key string, ref MessageRef, now time.Time) error {
	return store.Update(ctx, func(tx Tx) error {
		if err := tx.PutMessageRef(key, ref, now); err != nil {
			return err
		}
		return tx.Forget(postingKey(key))
	})
}
