package workflows

import (
	"context"
	"fmt"
	"strings"
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
			if err := n.Update(ctx, ref, m); err != nil {
				return fmt.Errorf("update message %s: %w", m.Key, err)
			}
			return nil
		}
		// A crash may have come between an earlier post and recording it
		// (or the job's Done): look before posting again. A keyed message
		// is looked for on its first post always, since its job may have
		// been replaced by a newer version that starts its attempts at 0.
		if m.Key != "" || j.Attempts > 0 {
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
				return store.Update(ctx, func(tx Tx) error { return tx.PutMessageRef(m.Key, found, clock.Now()) })
			}
		}
		ref, err = n.Post(ctx, m, parent)
		if err != nil {
			return fmt.Errorf("post message %s to %s: %w", m.Key, strings.TrimSpace(m.Channel+" "+m.User), err)
		}
		if m.Key == "" {
			return nil
		}
		return store.Update(ctx, func(tx Tx) error { return tx.PutMessageRef(m.Key, ref, clock.Now()) })
	}
}
