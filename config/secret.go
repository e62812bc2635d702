package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Secret is a token or signing secret from the environment. Every way of
// printing it (fmt verbs, slog, JSON, text marshalling) shows only its
// well-known prefix, like "xoxb-…(redacted)", so secrets can sit in
// structs that get logged. Reveal is the one way to the value.
type Secret string

// knownPrefixes are the public prefixes that say what kind of token it is
// without giving any of it away.
var knownPrefixes = []string{"xoxb-", "xoxp-", "xapp-", "xoxe-", "secret_", "ntn_"}

// Reveal returns the secret itself, for the one call that needs it (a
// client constructor, a signature check).
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s != "" }

// String redacts the secret: "" when unset, else its known prefix (if
// any) followed by "…(redacted)".
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	for _, p := range knownPrefixes {
		if strings.HasPrefix(string(s), p) {
			return p + "…(redacted)"
		}
	}
	return "…(redacted)"
}

// GoString redacts under %#v too.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format redacts under every fmt verb, including wrong ones like %d that
// would otherwise print the raw string.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'q':
		fmt.Fprintf(f, "%q", s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the secret in JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText redacts the secret wherever text marshalling is used.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

var (
	_ slog.LogValuer = Secret("")
	_ fmt.Formatter  = Secret("")
	_ json.Marshaler = Secret("")
)
