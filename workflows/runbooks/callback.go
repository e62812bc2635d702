package runbooks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// The signing contract, both ways (opsbot → endpoint, endpoint → opsbot
// callback): X-Opsbot-Timestamp is Unix seconds; X-Opsbot-Signature is
// "v1=" + hex(HMAC-SHA256(secret, "v1:" + timestamp + ":" + body)).
const (
	HeaderTimestamp   = "X-Opsbot-Timestamp"
	HeaderSignature   = "X-Opsbot-Signature"
	HeaderIdempotency = "Idempotency-Key"
	HeaderRun         = "X-Opsbot-Run"
	// MaxSkew is how far a signed timestamp may be from opsbot's clock.
	MaxSkew = 5 * time.Minute
)

// Sign returns the signature header value of body sent at ts.
func Sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("v1:" + ts + ":"))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("bad signature")
	ErrStale        = errors.New("timestamp missing or more than 5 minutes from now")
)

// Verify checks a signed body at now: a timestamp within MaxSkew and
// the signature, compared in constant time.
func Verify(secret []byte, ts, sig string, body []byte, now time.Time) error {
	sec, err := strconv.ParseInt(strings.TrimSpace(ts), 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > MaxSkew || d < -MaxSkew {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, strings.TrimSpace(ts), body)), []byte(strings.TrimSpace(sig))) {
		return ErrBadSignature
	}
	return nil
}

// Progress is a callback's body.
type Progress struct {
	RunID string `json:"run_id"`
	// Seq numbers a run's callbacks from 1; each is recorded once, and
	// one not above the last recorded is a replay.
	Seq int `json:"seq"`
	// Status: "running" (progress), "succeeded" or "failed" (final).
	Status string `json:"status"`
	Text   string `json:"text"`
}

// CallbackOutcome is the HTTP answer to a callback.
type CallbackOutcome struct {
	Code    int
	Message string
}

// Callback handles a signed progress report from a runbook's endpoint.
// Unknown runs, bad or expired signatures are 401 and change nothing; a
// replay (a seq recorded already) or a callback for a finished run is
// 409 and changes nothing; a malformed body is 400. Callbacks may come in
// any order (one that overtook another, one sent again after a lost
// answer): each seq is recorded once, before or after the 202 is, and a
// "running" update numbered before the one that ended the run is still
// recorded after it.
func (s *Service) Callback(ctx context.Context, body []byte, ts, sig string) (CallbackOutcome, error) {
	var p Progress
	if err := json.Unmarshal(body, &p); err != nil || p.RunID == "" {
		return CallbackOutcome{400, "body must be JSON with run_id, seq, status, text"}, nil
	}
	var r *Run
	err := s.view(ctx, func(tx Tx) (err error) {
		r, err = tx.RunbookRun(p.RunID)
		return err
	})
	if errors.Is(err, workflows.ErrNotFound) {
		return CallbackOutcome{401, "invalid signature"}, nil // no oracle for run IDs
	}
	if err != nil {
		return CallbackOutcome{}, fmt.Errorf("load %s: %w", p.RunID, err)
	}
	secret, ok := s.Secrets[r.Runbook]
	if !ok {
		return CallbackOutcome{401, "invalid signature"}, nil
	}
	if err := Verify(secret, ts, sig, body, s.Clock.Now()); err != nil {
		if s.Log != nil {
			s.Log.WarnContext(ctx, "refused runbook callback", "run", p.RunID, "err", err)
		}
		return CallbackOutcome{401, err.Error()}, nil
	}
	if p.Seq < 1 {
		return CallbackOutcome{400, "seq must be 1 or more"}, nil
	}
	final := StateQueued
	switch p.Status {
	case "running":
	case "succeeded":
		final = StateDone
	case "failed":
		final = StateFailed
	default:
		return CallbackOutcome{400, `status must be "running", "succeeded" or "failed"`}, nil
	}
	text := strings.TrimSpace(noNUL(p.Text))
	if rs := []rune(text); len(rs) > 2000 {
		text = string(rs[:2000]) + "…"
	}
	out := CallbackOutcome{200, "recorded"}
	err = s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.RunbookRun(p.RunID)
		if err != nil {
			return err
		}
		rb, known := s.Runbook(cur.Runbook)
		if TimedOut(cur, rb, now) {
			// Past the deadline: timed out now, as the tick would have
			// (its outcome must not depend on when the tick runs).
			out = CallbackOutcome{409, fmt.Sprintf("%s timed out waiting for its final report", cur.ID)}
			return s.timeOut(tx, rb, cur, now)
		}
		if !known {
			rb = &Runbook{Name: cur.Runbook}
		}
		late := false
		if _, dup := cur.step(p.Seq); dup {
			out = CallbackOutcome{409, fmt.Sprintf("seq %d of %s was recorded already", p.Seq, cur.ID)}
			return nil
		}
		switch {
		case len(cur.Progress) >= MaxSteps:
			out = CallbackOutcome{409, fmt.Sprintf("%s has %d updates recorded; no more are kept", cur.ID, MaxSteps)}
			return nil
		case cur.State == StateQueued || cur.State == StateAccepted:
		default:
			// An update numbered before the one that ended the run, sent
			// again or overtaken on the way, is still recorded; the run's
			// state does not change.
			end, ok := cur.finalStep()
			if !ok || final != StateQueued || p.Seq > end.Seq {
				out = CallbackOutcome{409, fmt.Sprintf("%s is %s", cur.ID, cur.State)}
				return nil
			}
			late = true
		}
		cur.record(Step{Seq: p.Seq, Status: p.Status, Text: text, At: now.UTC()})
		if !late {
			cur.UpdatedAt = now
		}
		if err := workflows.EnqueueMessage(tx, progressMessage(s.Catalog, cur, p.Seq, p.Status, text, now), now); err != nil {
			return err
		}
		if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "runbook:" + cur.Runbook, Action: "runbook.progress", Subject: cur.ID,
			Detail: fmt.Sprintf("seq %d %s", p.Seq, p.Status)}); err != nil {
			return err
		}
		if final == StateQueued {
			if err := tx.SaveRun(cur); err != nil {
				return err
			}
			return workflows.EnqueueMessage(tx, runMessage(s.Catalog, rb, cur), now)
		}
		word := "Succeeded"
		if final == StateFailed {
			word = "Failed"
		}
		result := word + ", as its endpoint reported."
		if text != "" {
			result = word + ": " + workflows.UserText(firstLine(text))
		}
		return s.finish(tx, rb, cur, final, result, now)
	})
	if err != nil {
		return CallbackOutcome{}, fmt.Errorf("record callback of %s: %w", p.RunID, err)
	}
	return out, nil
}
