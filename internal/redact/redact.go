// Package redact hides the secrets a database URL may carry, so the URL
// can be logged and put in error messages.
package redact

import (
	"net/url"
	"strings"
)

// hidden replaces a secret; it is what url.URL.Redacted writes.
const hidden = "xxxxx"

// secretParams are the query parameters that carry a secret in a
// PostgreSQL URL: libpq and pgx read the password and the TLS key's
// passphrase from them as well as from the user information.
var secretParams = []string{"password", "sslpassword"}

// URL returns s with the password of its user information and any
// secret query parameter replaced by "xxxxx". Text that does not parse
// as a URL is cut after its scheme, since it cannot be told apart.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if scheme, _, ok := strings.Cut(s, "://"); ok {
			return scheme + "://" + hidden
		}
		return hidden
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), hidden)
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			for _, p := range secretParams {
				if strings.EqualFold(k, p) {
					q[k] = []string{hidden}
					changed = true
				}
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
