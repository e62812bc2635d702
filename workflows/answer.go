package workflows

import (
	"context"
	"time"
)

// An answer is the direct message that tells a person what became of a
// request they cannot be answered inline (a modal submission: Slack
// closes the form, and there is no response URL). It is queued in the
// transaction of the request's effect, never after it: a crash between
// the effect and a second transaction lost it, and Slack's retry of the
// submission was then a replay that changed nothing and said nothing.
type answer struct {
	user   string
	render func(result any) (Message, bool)
}

type answerKey struct{}

// WithAnswer returns ctx for handling a request whose outcome user is
// told by DM: the workflow call that handles it renders its result with
// render (inside the transaction, so render must only format) and queues
// the message with its effect. render reports false to say nothing. It
// is a request-scoped value, the kind context carries.
func WithAnswer(ctx context.Context, user string, render func(result any) (Message, bool)) context.Context {
	return context.WithValue(ctx, answerKey{}, &answer{user: user, render: render})
}

// queueAnswer queues the answer ctx asks for about result, in tx.
func queueAnswer(ctx context.Context, tx Tx, result any, now time.Time) error {
	a, ok := ctx.Value(answerKey{}).(*answer)
	if !ok || a.user == "" || a.render == nil {
		return nil
	}
	m, ok := a.render(result)
	if !ok {
		return nil
	}
	m.User, m.Channel = a.user, ""
	return enqueueMessage(tx, m, now)
}
