package workflows

import (
	"strconv"
	"strings"
	"time"
)

// ExtendValue is the value of an Extend button drawn for r: the server,
// how much longer, and the lease end the button was drawn for. Binding
// the end makes a click act once: after the first extension (a double
// click, a replayed request, a second button on an older message) the
// lease ends later and the same value is refused.
func ExtendValue(r *ServerRequest, d string) string {
	return r.ID + " " + d + " " + strconv.FormatInt(r.LeaseEnd.Unix(), 10)
}

// ParseExtendValue reads an Extend button's value. A value without the
// lease end (drawn by an older opsbot) is refused, since it could extend
// twice.
func ParseExtendValue(v string) (id string, d time.Duration, drawnFor time.Time, err error) {
	parts := strings.Fields(v)
	if len(parts) != 3 {
		return "", 0, time.Time{}, Errorf(EConflict, "This button is from an older message and no longer works. Use `/ops lease extend SERVER DURATION`, or the button on your newest message about the server.")
	}
	d, err = ParseDuration(parts[1])
	if err != nil {
		return "", 0, time.Time{}, err
	}
	sec, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || sec <= 0 {
		return "", 0, time.Time{}, Errorf(EInvalid, "%q is not a lease end", parts[2])
	}
	return parts[0], d, time.Unix(sec, 0), nil
}
