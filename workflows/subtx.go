package workflows

import (
	"context"
	"fmt"
)

// Sub-packages (actions, runbooks, offboard) keep tables of their own:
// their view of a transaction is the kernel's Tx plus their methods,
// which the store implements. UpdateAs and ViewAs hand fn the
// transaction as that view, T.

// TxAs gives tx as T, or an error naming what the store does not keep.
func TxAs[T any](tx Tx, what string) (T, error) {
	t, ok := tx.(T)
	if !ok {
		return t, fmt.Errorf("the store does not keep %s", what)
	}
	return t, nil
}

// UpdateAs runs fn in one write transaction of s, as T. wake, when set,
// is called after a commit, so the job runner looks at what fn queued.
func UpdateAs[T any](ctx context.Context, s Store, what string, wake func(), fn func(T) error) error {
	err := s.Update(ctx, func(tx Tx) error {
		t, err := TxAs[T](tx, what)
		if err != nil {
			return err
		}
		return fn(t)
	})
	if err == nil && wake != nil {
		wake()
	}
	return err
}

// ViewAs runs fn in one read transaction of s, as T.
func ViewAs[T any](ctx context.Context, s Store, what string, fn func(T) error) error {
	return s.View(ctx, func(tx Tx) error {
		t, err := TxAs[T](tx, what)
		if err != nil {
			return err
		}
		return fn(t)
	})
}
