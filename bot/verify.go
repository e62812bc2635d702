// Package bot takes requests from Slack (slash commands, button clicks,
// modal submissions, events) over HTTP, checks they came from Slack, and
// turns each into a plain call on workflows. It renders answers through
// integrations/slack and never holds business rules itself.
package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxBody is the largest request opsbot reads from Slack. Slack's own
// payloads are far smaller; anything bigger is refused with 413.
const MaxBody = 1 << 20

// MaxSkew is how far a Slack request's timestamp may be from now.
const MaxSkew = 5 * time.Minute

var (
	errUnsigned  = errors.New("missing Slack signature headers")
	errStale     = errors.New("Slack request timestamp is too far from now")
	errSignature = errors.New("Slack signature does not match")
	errTooLarge  = errors.New("request body too large")
)

// readSigned checks a Slack request and returns its body. Everything
// that can be judged without the body is judged first (the signature
// headers are there and well formed, the timestamp is within MaxSkew, the
// declared Content-Length is within MaxBody), so an unsigned, stale or
// oversized post costs no more than its headers; only then is the body
// read, at most MaxBody bytes, and its signature checked.
//
// slack-go's SecretsVerifier reads the wall clock for the timestamp
// check, and opsbot's time is injected (the sandbox moves it), so the
// check is done here, the way Slack documents it:
// v0=hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func readSigned(r *http.Request, secret string, now time.Time) ([]byte, error) {
	if err := checkHeaders(r.Header, secret, now); err != nil {
		return nil, err
	}
	if r.ContentLength > MaxBody {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBody {
		return nil, errTooLarge
	}
	if err := Verify(r.Header, body, secret, now); err != nil {
		return nil, err
	}
	return body, nil
}

// checkHeaders checks what Verify checks short of the HMAC: a secret is
// configured, both headers are there, the timestamp is a number within
// MaxSkew of now and the signature is "v0=" and 64 hex digits.
func checkHeaders(h http.Header, secret string, now time.Time) error {
	ts, sig := h.Get("X-Slack-Request-Timestamp"), strings.TrimSpace(h.Get("X-Slack-Signature"))
	if ts == "" || sig == "" || secret == "" {
		return errUnsigned
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errUnsigned
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return errStale
	}
	hexSig, ok := strings.CutPrefix(sig, "v0=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return errSignature
	}
	if _, err := hex.DecodeString(hexSig); err != nil {
		return errSignature
	}
	return nil
}

// Verify checks a Slack request signature and its timestamp.
func Verify(h http.Header, body []byte, secret string, now time.Time) error {
	if err := checkHeaders(h, secret, now); err != nil {
		return err
	}
	ts, sig := h.Get("X-Slack-Request-Timestamp"), strings.TrimSpace(h.Get("X-Slack-Signature"))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	want := "v0=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return errSignature
	}
	return nil
}

// Sign returns the headers Slack would send with body at t. The sandbox
// and tests use it to play Slack.
func Sign(secret string, body []byte, t time.Time) http.Header {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}
