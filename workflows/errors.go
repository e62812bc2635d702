package workflows

import (
	"errors"
	"fmt"
)

// Error codes. A user-facing Error carries one of these and a message a
// person can act on; anything else that goes wrong is internal and is
// logged, not shown.
const (
	EInvalid   = "invalid"   // the input is malformed
	ENotFound  = "not_found" // the thing named does not exist (or is not yours to see)
	EForbidden = "forbidden" // the actor may not do this
	EConflict  = "conflict"  // the thing is not in a state that allows this
	ERefused   = "refused"   // a policy said no
)

// Error is a failure a person can read: a code for programs and a message
// for people.
type Error struct {
	Code    string
	Message string
	// People (Slack user IDs or emails) are named after the message, as
	// mentions: whom to ask instead.
	People []string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds a user-facing error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of a user-facing error, or "internal".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}

// ErrorMessage returns what a person should read for err: the message of a
// user-facing error, or a generic apology for an internal one.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on opsbot's side; it has been logged. Please try again in a minute."
}

// ErrNotFound is returned by stores when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrDryRun is returned by a Provisioner in dry-run mode: the cloud checked
// the change and would have made it, but nothing was created or destroyed.
var ErrDryRun = errors.New("dry run: the change was checked and not made")

// ErrNotOurs is returned by a Provisioner that refuses to touch an instance
// whose ID, launch time or opsbot tags do not match opsbot's records.
var ErrNotOurs = errors.New("instance does not match opsbot's records")
