package workflows

import (
	"context"
	"fmt"
	"strings"
)

// Deliver returns the job handler that sends queued messages through n.
// A message with a key that was posted before is edited in place.
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
