package costs

import (
	"context"
	"errors"
	"fmt"

	"github.com/opsbot/opsbot/workflows"
)

// The kinds of Cost Explorer errors reported, each once until a refresh
// succeeds.
var errorKinds = []string{"access", "unavailable", "other"}

func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrAccessDenied):
		return "access"
	case errors.Is(err, ErrDataUnavailable):
		return "unavailable"
	}
	return "other"
}

// errorMessage tells the review channel what went wrong and what to do.
func (s *Service) errorMessage(kind string) workflows.Message {
	payer := "opsbot's own account (the default credentials)"
	if s.Policy.PayerAccount != "" {
		payer = "the account " + s.Policy.PayerAccount
		if a, ok := s.Catalog.Account(s.Policy.PayerAccount); ok && a.RoleARN != "" {
			payer += " (its role " + a.RoleARN + ")"
		}
	}
	m := workflows.Message{Channel: s.Policy.Review.Channel, Title: "Cost Explorer: opsbot cannot read the bill"}
	switch kind {
	case "access":
		m.Text = fmt.Sprintf("Cost Explorer refused opsbot (access denied). To fix it, allow %s to opsbot's identity in %s, and make sure Cost Explorer is enabled in that account's Billing console (it takes up to 24 hours after enabling).", IAMActions, payer)
	case "unavailable":
		m.Title = "Cost Explorer: no data yet"
		m.Text = "Cost Explorer has no data for the period opsbot asked (DataUnavailableException): it is new in this account, or still being prepared. Nothing to do but wait; opsbot asks again tomorrow."
	default:
		m.Text = "Cost Explorer did not answer after several tries (throttled or unavailable). opsbot asks again tomorrow; if it lasts, check Cost Explorer's service health and opsbot's logs."
	}
	m.Note = "Until it works, /ops costs and the monthly review show opsbot's own figures (the ledger and its estimates), not the bill. This is said once; opsbot will say nothing more until it has read the bill again."
	return m
}

// reportError posts err's kind to the review channel, once until a
// refresh succeeds.
func (s *Service) reportError(ctx context.Context, err error) error {
	kind := errorKind(err)
	s.log().Error("cost explorer refresh failed", "kind", kind, "err", err)
	if s.Policy.Review == nil || s.Policy.Review.Channel == "" {
		return nil
	}
	return s.update(ctx, func(tx workflows.Tx) error {
		now := s.Clock.Now()
		fresh, err := tx.MarkSent(monthKey("error", kind), now)
		if err != nil || !fresh {
			return err
		}
		return workflows.EnqueueMessage(tx, s.errorMessage(kind), now)
	})
}
