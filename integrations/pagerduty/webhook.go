package pagerduty

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/opsbot/opsbot/workflows"
)

// WebhookPath is where PagerDuty posts V3 webhooks (CONTRACT.md).
const WebhookPath = "/webhooks/pagerduty"

// SignatureHeader carries the body's signatures.
const SignatureHeader = "X-PagerDuty-Signature"

// MaxWebhookBody is the largest body taken: 2 MB, what go-pagerduty's
// webhookv3 reads. A larger body gets 413.
const MaxWebhookBody = 2 << 20

// WebhookHandler takes PagerDuty V3 webhooks on POST /webhooks/pagerduty.
// It answers 401 to a missing or wrong signature, 413 to a body over
// 2 MB, 400 to a body that is not a V3 event, 500 when Receive fails (so
// PagerDuty delivers again) and 202 otherwise, including for event types
// opsbot does not act on. Receive must only record the event durably and
// return: PagerDuty waits for the answer.
type WebhookHandler struct {
	// Secrets are the subscription's signing secrets; during a rotation
	// both old and new. With none, every request is refused.
	Secrets []string
	// Receive records one verified event.
	Receive func(ctx context.Context, ev workflows.PagerEvent) error
	// Log receives one line per refused or failed request. Default: discard.
	Log *slog.Logger
}

// ServeHTTP verifies, parses and hands on one webhook.
func (h *WebhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	// What the headers alone can refuse is refused before the body is
	// read: no secret or no well-formed signature, or a declared length
	// over the limit.
	if _, _, err := signatures(r.Header.Get(SignatureHeader), h.Secrets); err != nil {
		log.Warn("pagerduty webhook refused", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > MaxWebhookBody {
		log.Warn("pagerduty webhook: body too large", "limit", MaxWebhookBody, "length", r.ContentLength)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := readBody(io.LimitReader(r.Body, MaxWebhookBody+1), r.ContentLength)
	if err != nil {
		log.Warn("pagerduty webhook: read body", "err", err)
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if len(body) > MaxWebhookBody {
		log.Warn("pagerduty webhook: body too large", "limit", MaxWebhookBody)
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := VerifySignature(r.Header.Get(SignatureHeader), body, h.Secrets); err != nil {
		log.Warn("pagerduty webhook refused", "err", err, "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	ev, err := ParseEvent(body)
	if err != nil {
		log.Warn("pagerduty webhook: malformed event", "err", err)
		http.Error(w, "malformed event", http.StatusBadRequest)
		return
	}
	if h.Receive == nil {
		log.Error("pagerduty webhook: no receiver", "event", ev.ID)
		http.Error(w, "not ready", http.StatusInternalServerError)
		return
	}
	if err := h.Receive(r.Context(), ev); err != nil {
		log.Error("pagerduty webhook: record event", "event", ev.ID, "type", ev.Type, "err", err)
		http.Error(w, "could not record event", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// readBody reads r to its end into a buffer sized by the declared
// length, up to 64 KB (more would let a lying header make opsbot hold
// memory the client never sends), where io.ReadAll starts at 512 bytes
// and grows, copying, to the usual 1–3 KB event.
func readBody(r io.Reader, declared int64) ([]byte, error) {
	b := make([]byte, 0, min(max(declared, 0), 64<<10)+1) // +1: room to see the end without growing
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Signature errors.
var (
	ErrNoSecrets    = errors.New("no webhook secret configured")
	ErrNoSignature  = errors.New("no v1 signature in " + SignatureHeader)
	ErrBadSignature = errors.New("no signature matches any secret")
)

// VerifySignature checks header (X-PagerDuty-Signature) against body for
// each secret, the documented way: split on commas, trim spaces, keep the
// "v1=" signatures, and compare each in constant time with
// hex(HMAC-SHA256(secret, body)). One match is enough.
//
// go-pagerduty's webhookv3.VerifySignature does the same for one secret,
// but it re-reads the request body on every call, does not trim the space
// some proxies put after a comma, and silently truncates a body at 2 MB,
// which would turn a 413 into a signature failure. The handler reads the
// body once and calls this instead; the tests check both agree.
func VerifySignature(header string, body []byte, secrets []string) error {
	keys, sigs, err := signatures(header, secrets)
	if err != nil {
		return err
	}
	for _, secret := range keys {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return nil
			}
		}
	}
	return ErrBadSignature
}

// signatures returns the non-empty secrets and the well-formed v1
// signatures of header (64 hex digits each), or why there are none.
func signatures(header string, secrets []string) (keys []string, sigs [][]byte, err error) {
	for _, s := range secrets {
		if s != "" { // an empty key is one anybody can sign with
			keys = append(keys, s)
		}
	}
	if len(keys) == 0 {
		return nil, nil, ErrNoSecrets
	}
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		hexSig, ok := strings.CutPrefix(part, "v1=")
		if !ok {
			continue
		}
		if sig, err := hex.DecodeString(hexSig); err == nil && len(sig) == sha256.Size {
			sigs = append(sigs, sig)
		}
	}
	if len(sigs) == 0 {
		return nil, nil, ErrNoSignature
	}
	return keys, sigs, nil
}
