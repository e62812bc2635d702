package slack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/opsbot/opsbot/internal/chart"
	"github.com/opsbot/opsbot/workflows"
)

var _ workflows.FileUploader = (*Client)(nil)

// uploadName is the name a file is shared under: its own name with a
// short digest of its key before the extension ("alerts-3f2a9c1d.png"),
// so FindUploaded can tell it from every other file.
func uploadName(f workflows.File) string {
	sum := sha256.Sum256([]byte(f.Key))
	ext := path.Ext(f.Name)
	return strings.TrimSuffix(f.Name, ext) + "-" + hex.EncodeToString(sum[:4]) + ext
}

// Upload shares f in its channel (under parent when set) in Slack's
// three steps: files.getUploadURLExternal announces the file and gives
// an upload URL and a file ID, the bytes are POSTed to that URL, and
// files.completeUploadExternal shares the file with its title and
// comment. Only the last step shows anything: a crash before it leaves
// an unshared file that Slack discards.
func (c *Client) Upload(ctx context.Context, f workflows.File, parent workflows.MessageRef) error {
	channel, err := c.fileChannel(ctx, f, parent)
	if err != nil {
		return fmt.Errorf("share file %s: %w", f.Key, err)
	}
	name := uploadName(f)
	data, err := fileData(f)
	if err != nil {
		return workflows.Permanent(fmt.Errorf("share file %s: %w", f.Key, err))
	}
	var u *slackapi.GetUploadURLExternalResponse
	err = c.call(ctx, "files.getUploadURLExternal", func(ctx context.Context) (err error) {
		u, err = c.api.GetUploadURLExternalContext(ctx, slackapi.GetUploadURLExternalParameters{
			FileName: name, FileSize: len(data), AltTxt: f.AltText,
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("share file %s: get an upload URL: %w", f.Key, err)
	}
	if err := c.sendBytes(ctx, u.UploadURL, name, data); err != nil {
		return fmt.Errorf("share file %s: send %d bytes: %w", f.Key, len(data), err)
	}
	title := f.Title
	if title == "" {
		title = f.Name
	}
	err = c.call(ctx, "files.completeUploadExternal", func(ctx context.Context) error {
		_, err := c.api.CompleteUploadExternalContext(ctx, slackapi.CompleteUploadExternalParameters{
			Files:           []slackapi.FileSummary{{ID: u.FileID, Title: title}},
			Channel:         channel,
			InitialComment:  Escape(f.Comment),
			ThreadTimestamp: parent.TS,
		})
		return err
	})
	if err != nil {
		if code := SlackError(err); code == "invalid_channel" || code == "channel_not_found" {
			c.channels.forget(strings.TrimPrefix(f.Channel, "#"))
		}
		return fmt.Errorf("share file %s in %s: %w", f.Key, channel, err)
	}
	return nil
}

// fileData is what a file holds: its bytes, or its chart drawn as a PNG
// (the same bytes for the same chart).
func fileData(f workflows.File) ([]byte, error) {
	if f.Chart == nil {
		return f.Data, nil
	}
	return DrawChart(*f.Chart)
}

// DrawChart draws a workflow's chart as a PNG picture.
func DrawChart(c workflows.Chart) ([]byte, error) {
	out := chart.Chart{Title: c.Title, XLabel: c.XLabel, YLabel: c.YLabel, Labels: c.Labels, Stacked: c.Stacked}
	for _, s := range c.Series {
		out.Series = append(out.Series, chart.Series{Name: s.Name, Values: s.Values})
	}
	b, err := out.PNG()
	if err != nil {
		return nil, fmt.Errorf("draw chart %q: %w", c.Title, err)
	}
	return b, nil
}

// sendBytes POSTs a file's bytes to its upload URL (slack-go sends them
// as a multipart form, which Slack accepts). Sending them again is
// harmless: nothing is shared until the upload is completed. A 5xx or a
// network error is retried with backoff.
func (c *Client) sendBytes(ctx context.Context, url, name string, data []byte) error {
	for attempt := 1; ; attempt++ {
		err := c.api.UploadToURL(ctx, slackapi.UploadToURLParameters{
			UploadURL: url, Filename: name, Reader: bytes.NewReader(data),
		})
		if err == nil {
			return nil
		}
		wait, retry := c.retryAfter(err, attempt)
		if !retry || attempt >= c.opts.MaxAttempts || ctx.Err() != nil {
			return err
		}
		if serr := c.opts.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("wait to send again: %w (after %w)", serr, err)
		}
	}
}

// FindUploaded looks among the latest messages where f goes (the thread
// under parent, or f's channel) for one of the bot's that shares a file
// named as Upload names f.
func (c *Client) FindUploaded(ctx context.Context, f workflows.File, parent workflows.MessageRef) (bool, error) {
	channel, err := c.fileChannel(ctx, f, parent)
	if err != nil {
		return false, fmt.Errorf("look for file %s: %w", f.Key, err)
	}
	me, err := c.BotUserID(ctx)
	if err != nil {
		return false, fmt.Errorf("look for file %s: %w", f.Key, err)
	}
	msgs, err := c.latest(ctx, channel, parent.TS)
	if err != nil {
		return false, fmt.Errorf("look for file %s in %s: %w", f.Key, channel, err)
	}
	name := uploadName(f)
	for _, m := range msgs {
		if m.User != me {
			continue
		}
		for _, x := range m.Files {
			if x.Name == name {
				return true, nil
			}
		}
	}
	return false, nil
}

func (c *Client) fileChannel(ctx context.Context, f workflows.File, parent workflows.MessageRef) (string, error) {
	if parent.Channel != "" {
		return parent.Channel, nil
	}
	if f.Channel == "" {
		return "", workflows.Permanent(fmt.Errorf("file has no channel"))
	}
	return c.ChannelID(ctx, f.Channel)
}
