package slack

import (
	"context"

	slackapi "github.com/slack-go/slack"
)

// OpenViewContext opens a modal for a trigger_id. Slack honours a trigger
// for 3 seconds only, so a failure is not retried beyond the client's
// usual attempts: the person clicks again.
func (c *Client) OpenViewContext(ctx context.Context, triggerID string, view slackapi.ModalViewRequest) (*slackapi.ViewResponse, error) {
	var resp *slackapi.ViewResponse
	err := c.call(ctx, "views.open", func(ctx context.Context) (err error) {
		resp, err = c.api.OpenViewContext(ctx, triggerID, view)
		return err
	})
	return resp, err
}
