package runbooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsbot/opsbot/workflows"
)

// Handlers returns the job handlers of the runbooks workflow.
func (s *Service) Handlers() map[string]workflows.JobHandler {
	return map[string]workflows.JobHandler{JobCall: s.call}
}

// MaxRetryAfter caps how long a 429's Retry-After holds a retry back.
const MaxRetryAfter = 5 * time.Minute

// callBody is the JSON the endpoint receives. It is built from the run's
// record alone, so every attempt sends the same bytes.
type callBody struct {
	RunID          string    `json:"run_id"`
	Runbook        string    `json:"runbook"`
	IdempotencyKey string    `json:"idempotency_key"`
	Params         Values    `json:"params"`
	Team           string    `json:"team,omitempty"`
	AskedBy        person    `json:"asked_by"`
	ApprovedBy     *person   `json:"approved_by,omitempty"`
	AskedAt        time.Time `json:"asked_at"`
	CallbackURL    string    `json:"callback_url,omitempty"`
}

type person struct {
	SlackID string `json:"slack_id,omitempty"`
	Email   string `json:"email,omitempty"`
}

// Body is the JSON body of r's call.
func (s *Service) Body(r *Run) ([]byte, error) {
	b := callBody{RunID: r.ID, Runbook: r.Runbook, IdempotencyKey: r.Key, Params: r.values(), Team: r.Team,
		AskedBy: person{r.Actor.SlackID, r.Actor.Email}, AskedAt: r.CreatedAt.UTC(), CallbackURL: s.CallbackURL}
	if r.Approver != (workflows.Person{}) {
		b.ApprovedBy = &person{r.Approver.SlackID, r.Approver.Email}
	}
	return json.Marshal(b)
}

// call makes one attempt of a queued run. The attempt is counted before
// the call, in its own transaction, so a crash during the call counts
// too and a run never gets more than 1+Retries attempts; each carries
// the run's one idempotency key.
func (s *Service) call(ctx context.Context, j workflows.Job) error {
	var r *Run
	var rb *Runbook
	var attempt int
	err := s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		var err error
		if r, err = tx.RunbookRun(j.Payload); err != nil {
			return err
		}
		if r.State != StateQueued {
			r = nil
			return nil
		}
		var ok bool
		if rb, ok = s.Runbook(r.Runbook); !ok {
			return s.finish(tx, nil, r, StateFailed, fmt.Sprintf("Runbook %s is no longer in opsbot's config; it was not called.", r.Runbook), now)
		}
		if s.DryRun {
			r.Result = fmt.Sprintf("Dry run: opsbot makes no outside change, so %s was not called. Nothing was done.", rb.Name)
			err := s.finish(tx, rb, r, StateDryRun, r.Result, now)
			r = nil
			return err
		}
		if r.Attempts >= 1+rb.Retries {
			// The last attempt was cut short (a crash or a lost lease):
			// no attempt beyond the bound.
			r.Result = fmt.Sprintf("Gave up after %d attempts; the last one got no answer that opsbot recorded.", r.Attempts)
			return s.finish(tx, rb, r, StateFailed, r.Result, now)
		}
		r.Attempts++
		attempt = r.Attempts
		r.UpdatedAt = now
		return tx.SaveRun(r)
	})
	if errors.Is(err, workflows.ErrNotFound) {
		return workflows.Permanent(fmt.Errorf("run %s: %w", j.Payload, err))
	}
	if err != nil {
		return fmt.Errorf("start attempt of %s: %w", j.Payload, err)
	}
	if r == nil || attempt == 0 {
		return nil
	}
	body, err := s.Body(r)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("encode call of %s: %w", r.ID, err))
	}
	secret, ok := s.Secrets[rb.Name]
	if !ok {
		return workflows.Permanent(fmt.Errorf("no secret for runbook %s", rb.Name))
	}
	timeout := rb.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	ans, cerr := s.Caller.Post(cctx, Call{URL: rb.URL, Secret: secret, Key: r.Key, Body: body, At: s.Clock.Now(), Timeout: timeout})
	timedOut := cerr != nil && (errors.Is(cerr, context.DeadlineExceeded) || cctx.Err() != nil) && ctx.Err() == nil
	cancel()
	if cerr != nil && ctx.Err() != nil {
		// Shutting down: the attempt counts; the job runs again later.
		return fmt.Errorf("call %s: %w", r.ID, ctx.Err())
	}
	ans.Body = noNUL(ans.Body)
	return s.update(ctx, func(tx Tx) error {
		now := s.Clock.Now()
		cur, err := tx.RunbookRun(r.ID)
		if err != nil {
			return err
		}
		if cur.Attempts != attempt {
			return nil // another attempt has started since: its outcome counts
		}
		what := describe(ans, cerr, timedOut, timeout)
		retryable := cerr != nil || ans.Status == 429 || ans.Status >= 500
		if cur.State.Final() {
			// A callback finished it while the answer was on its way: the
			// answer goes in the thread, the state stays.
			cur.Status, cur.Body = ans.Status, ans.Body
			return workflows.EnqueueMessage(tx, resultMessage(s.Catalog, rb, cur, what, now), now)
		}
		if cur.State != StateQueued && cur.State != StateAccepted {
			return nil
		}
		cur.Status, cur.Body, cur.UpdatedAt = ans.Status, ans.Body, now
		if retryable && cur.Attempts < 1+rb.Retries {
			wait := workflows.Backoff(cur.Attempts)
			if ans.RetryAfter > 0 {
				wait = min(ans.RetryAfter, MaxRetryAfter)
			}
			cur.Result = fmt.Sprintf("Attempt %d of %d: %s. Trying again in %s with the same idempotency key.",
				cur.Attempts, 1+rb.Retries, what, shortDuration(wait))
			if err := tx.SaveRun(cur); err != nil {
				return err
			}
			if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: "runbook.retry", Subject: cur.ID, Detail: cur.Runbook, Reason: what}); err != nil {
				return err
			}
			if err := workflows.EnqueueMessage(tx, runMessage(s.Catalog, rb, cur), now); err != nil {
				return err
			}
			return queueCall(tx, cur, cur.Attempts+1, now.Add(wait))
		}
		state := StateDone
		switch {
		case cerr != nil || ans.Status < 200 || ans.Status >= 300:
			state = StateFailed
		case ans.Status == 202:
			state = StateAccepted
		}
		cur.Result = resultSentence(state, what, cur.Attempts)
		if state == StateAccepted {
			cur.AcceptedAt = now
			cur.Result += fmt.Sprintf(" opsbot waits for its end until %s.", localTime(s.Catalog, cur, Deadline(cur, rb)))
		}
		if err := workflows.EnqueueMessage(tx, resultMessage(s.Catalog, rb, cur, what, now), now); err != nil {
			return err
		}
		return s.finish(tx, rb, cur, state, cur.Result, now)
	})
}

// finish records a run's new state, audits it and edits its message.
func (s *Service) finish(tx Tx, rb *Runbook, r *Run, state State, result string, now time.Time) error {
	r.State, r.Result, r.UpdatedAt = state, result, now
	if err := tx.SaveRun(r); err != nil {
		return err
	}
	detail := r.Runbook
	if r.Status != 0 {
		detail += fmt.Sprintf(" HTTP %d", r.Status)
	}
	if err := tx.Audit(workflows.AuditEntry{At: now, Actor: "opsbot", Action: "runbook." + string(state), Subject: r.ID, Detail: detail, Reason: result}); err != nil {
		return err
	}
	if rb == nil {
		rb = &Runbook{Name: r.Runbook}
	}
	return workflows.EnqueueMessage(tx, runMessage(s.Catalog, rb, r), now)
}

func describe(a Answer, err error, timedOut bool, timeout time.Duration) string {
	switch {
	case timedOut:
		return fmt.Sprintf("no answer within %s (timed out)", shortDuration(timeout))
	case err != nil:
		return "no answer: " + firstLine(err.Error())
	}
	return fmt.Sprintf("HTTP %d", a.Status)
}

func resultSentence(state State, what string, attempts int) string {
	tries := ""
	if attempts > 1 {
		tries = fmt.Sprintf(" after %d attempts", attempts)
	}
	switch state {
	case StateAccepted:
		return fmt.Sprintf("The endpoint accepted it (%s%s); its progress will be posted in the thread.", what, tries)
	case StateDone:
		return fmt.Sprintf("Done: %s%s.", what, tries)
	}
	return fmt.Sprintf("Failed: %s%s.", what, tries)
}

// noNUL drops NUL characters from text an endpoint sent: PostgreSQL
// keeps no NUL in text, and a record that cannot be written would fail
// its transaction every time.
func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if rs := []rune(s); len(rs) > 200 {
		s = string(rs[:200]) + "…"
	}
	return s
}

// GiveUp records a run whose job failed for good (its record could not
// be read or written).
func (s *Service) GiveUp(ctx context.Context, j workflows.Job, cause error) {
	if j.Kind != JobCall {
		return
	}
	err := s.update(ctx, func(tx Tx) error {
		r, err := tx.RunbookRun(j.Payload)
		if err != nil || r.State.Final() {
			return err
		}
		rb, _ := s.Runbook(r.Runbook)
		return s.finish(tx, rb, r, StateFailed, "opsbot could not make the call (the details are in its log): "+firstLine(cause.Error()), s.Clock.Now())
	})
	if err != nil && s.Log != nil {
		s.Log.ErrorContext(ctx, "record failed runbook run", "run", j.Payload, "err", err)
	}
}

// shortDuration says a duration of seconds or minutes: "2s", "1m30s", "10m".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}
