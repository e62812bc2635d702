package workflows

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrReplayed is returned by a Store's Update when the intake being
// handled (see WithIntake) was recorded by another handling first: the
// request was a replay or a concurrent re-delivery, and nothing it did is
// kept.
var ErrReplayed = errors.New("this request was handled already")

// intake is one request from outside (a slash command, click, modal
// submission or event) being handled, named by the keys that identify it.
type intake struct {
	mu     sync.Mutex
	keys   []string
	at     time.Time
	marked bool
}

type intakeKey struct{}

// WithIntake returns ctx for handling the request named key (and any keys
// AlsoMark adds). The store records the keys in the same transaction as
// the first change the handling makes, so the request and its effect are
// recorded together: a crash before that transaction leaves the request
// unrecorded and a retry handles it; after it, a retry is a replay
// (ErrReplayed). It is a request-scoped value, the kind context carries.
func WithIntake(ctx context.Context, at time.Time, key string) context.Context {
	return context.WithValue(ctx, intakeKey{}, &intake{keys: []string{key}, at: at})
}

// AlsoMark adds a key the request's effect is recorded under too (a
// modal's view ID, a trigger ID, an event ID), so a re-delivery named by
// any of them is known.
// It reports false when ctx carries no intake.
func AlsoMark(ctx context.Context, key string) bool {
	in, ok := ctx.Value(intakeKey{}).(*intake)
	if ok && key != "" {
		in.mu.Lock()
		in.keys = append(in.keys, key)
		in.mu.Unlock()
	}
	return ok
}

// MarkIntake is for Store implementations: it runs write, a transaction,
// so that the first one a handling commits records the intake's keys in
// it, before fn's changes. mark is called inside the transaction; a key
// recorded before fails it with ErrReplayed. Later transactions of the
// same handling run as they are.
func MarkIntake(ctx context.Context, write func(mark func(Tx) error) error) error {
	in, ok := ctx.Value(intakeKey{}).(*intake)
	if !ok {
		return write(func(Tx) error { return nil })
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.marked {
		return write(func(Tx) error { return nil })
	}
	err := write(func(tx Tx) error {
		for _, k := range in.keys {
			fresh, err := tx.MarkSent(k, in.at)
			if err != nil {
				return err
			}
			if !fresh {
				return ErrReplayed
			}
		}
		return nil
	})
	if err == nil {
		in.marked = true
	}
	return err
}

// FinishIntake records the request's first key when its handling changed
// nothing (a read, a refusal): a replay of it then gets no second answer.
// The other keys stay unrecorded, so a corrected modal submission after a
// refused one is handled.
func FinishIntake(ctx context.Context, store Store) error {
	in, ok := ctx.Value(intakeKey{}).(*intake)
	if !ok {
		return nil
	}
	in.mu.Lock()
	done, key, at := in.marked, in.keys[0], in.at
	in.mu.Unlock()
	if done {
		return nil
	}
	_, err := FirstTime(context.WithoutCancel(withoutIntake(ctx)), store, key, at)
	return err
}

// UnfinishedIntake returns what FinishIntake would record: the request's
// first key and when it was taken, when its handling has recorded none
// of its keys. ok is false when there is nothing to record. It lets a
// caller record the key in a write of its own (with other bookkeeping,
// or batched with other requests').
func UnfinishedIntake(ctx context.Context) (key string, at time.Time, ok bool) {
	in, has := ctx.Value(intakeKey{}).(*intake)
	if !has || in == nil {
		return "", time.Time{}, false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.marked {
		return "", time.Time{}, false
	}
	return in.keys[0], in.at, true
}

// WithoutIntake hides the intake from ctx, for a write that is not the
// request's effect (a price cached on the way).
func WithoutIntake(ctx context.Context) context.Context { return withoutIntake(ctx) }

func withoutIntake(ctx context.Context) context.Context {
	return context.WithValue(ctx, intakeKey{}, nil)
}

// Seen reports whether any of keys was recorded: the request they name
// was handled before.
func Seen(ctx context.Context, store Store, keys ...string) (bool, error) {
	seen := false
	err := store.View(ctx, func(tx Tx) error {
		for _, k := range keys {
			if k == "" {
				continue
			}
			ok, err := tx.Sent(k)
			if err != nil {
				return err
			}
			if ok {
				seen = true
				return nil
			}
		}
		return nil
	})
	return seen, err
}
