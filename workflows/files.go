package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// File is a file opsbot shares in a channel: a chart picture. Like a
// Message it is delivered through the outbox, and a File with a Key is
// shared once, ever: a retry, a crash or a second enqueue with the same
// Key never shares it twice.
type File struct {
	// Key identifies the file across time (required): once shared, a
	// file with the same key is not shared again. Put what makes it new
	// (the team, the window) in the key.
	Key string
	// Channel is a Slack channel ID or name.
	Channel string
	// Thread is the key of an earlier message to share the file under.
	Thread string
	// Name is the file's name with its extension ("alerts.png"). The
	// Slack integration makes it unique to Key, to find the file again.
	Name    string
	Title   string
	AltText string // what a screen reader says instead of the picture
	// Comment is the message text introducing the file (plain text).
	Comment string
	// Data is the file's bytes; or, for a chart, Chart describes it and
	// the integration draws it (a PNG: Name should end in .png), the
	// same picture every time.
	Data  []byte
	Chart *Chart `json:",omitempty"`
}

// Chart is a bar chart in neutral terms: one bar per series in each
// period, stacked or side by side. The Slack integration draws it.
type Chart struct {
	Title          string
	XLabel, YLabel string
	Labels         []string // the periods
	Series         []ChartSeries
	Stacked        bool
}

// ChartSeries is one kind of bar: one value per period.
type ChartSeries struct {
	Name   string
	Values []float64
}

// Chart limits, as the drawing takes them.
const (
	ChartMaxPeriods = 60
	ChartMaxSeries  = 12
)

func checkChart(c *Chart) error {
	switch {
	case len(c.Labels) == 0 || len(c.Labels) > ChartMaxPeriods:
		return fmt.Errorf("chart has %d periods, want 1 to %d", len(c.Labels), ChartMaxPeriods)
	case len(c.Series) == 0 || len(c.Series) > ChartMaxSeries:
		return fmt.Errorf("chart has %d series, want 1 to %d", len(c.Series), ChartMaxSeries)
	}
	for _, s := range c.Series {
		if len(s.Values) != len(c.Labels) {
			return fmt.Errorf("chart series %q has %d values for %d periods", s.Name, len(s.Values), len(c.Labels))
		}
	}
	return nil
}

// MaxFileBytes bounds a file sent through the outbox: a chart is tens of
// kilobytes; this keeps a mistake from filling the job table (Slack
// itself takes up to 1 GB).
const MaxFileBytes = 5 << 20

// FileUploader shares files in Slack. The Slack integration implements
// it with files.getUploadURLExternal and files.completeUploadExternal.
type FileUploader interface {
	// Upload shares f in its channel, under parent when parent is set.
	Upload(ctx context.Context, f File, parent MessageRef) error
	// FindUploaded looks for f (by its Key) among the files opsbot
	// shared lately where f goes, so an upload cut short by a crash is
	// not made twice.
	FindUploaded(ctx context.Context, f File, parent MessageRef) (bool, error)
}

// JobUpload is the outbox job that shares a File; payload: the File as
// JSON.
const JobUpload = "upload"

// uploadSentKey is what MarkSent records once a file is shared.
func uploadSentKey(key string) string { return "upload:" + key }

// EnqueueUpload queues f to be shared, in the caller's transaction. A
// file whose key was shared before is not queued again.
func EnqueueUpload(tx Tx, f File, now time.Time) error {
	if err := checkFile(f); err != nil {
		return Permanent(fmt.Errorf("queue file %s: %w", f.Key, err))
	}
	done, err := tx.Sent(uploadSentKey(f.Key))
	if err != nil || done {
		return err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode file %s: %w", f.Key, err)
	}
	return tx.Enqueue(Job{Kind: JobUpload, Key: JobUpload + ":" + f.Key, Payload: string(b), RunAt: now})
}

func checkFile(f File) error {
	switch {
	case strings.TrimSpace(f.Key) == "":
		return errors.New("file has no key")
	case f.Channel == "":
		return errors.New("file has no channel")
	case f.Name == "" || strings.ContainsAny(f.Name, "/\\"):
		return fmt.Errorf("file name %q is empty or holds a slash", f.Name)
	case len(f.Data) == 0 && f.Chart == nil:
		return errors.New("file is empty")
	case len(f.Data) > 0 && f.Chart != nil:
		return errors.New("file has both bytes and a chart")
	case f.Chart != nil:
		return checkChart(f.Chart)
	case len(f.Data) > MaxFileBytes:
		return fmt.Errorf("file is %d bytes, at most %d", len(f.Data), MaxFileBytes)
	}
	return nil
}

func uploadPayload(p string) error {
	var f File
	if err := json.Unmarshal([]byte(p), &f); err != nil {
		return fmt.Errorf("decode file: %w", err)
	}
	return checkFile(f)
}

// DeliverUpload returns the job handler that shares queued files through
// up. A file shared before (recorded, or found where it goes after a
// crash that came between sharing and recording) is not shared again.
func DeliverUpload(store Store, up FileUploader, clock Clock) JobHandler {
	return func(ctx context.Context, j Job) error {
		var f File
		if err := json.Unmarshal([]byte(j.Payload), &f); err != nil {
			return Permanent(fmt.Errorf("decode file: %w", err))
		}
		var parent MessageRef
		var done, hasParent bool
		if err := store.View(ctx, func(tx Tx) error {
			var err error
			if done, err = tx.Sent(uploadSentKey(f.Key)); err != nil || done {
				return err
			}
			if f.Thread != "" {
				parent, hasParent, err = tx.MessageRef(f.Thread)
			}
			return err
		}); err != nil {
			return fmt.Errorf("look up file %s: %w", f.Key, err)
		}
		if done {
			return nil
		}
		if f.Thread != "" && !hasParent {
			return fmt.Errorf("thread %s is not posted yet", f.Thread)
		}
		found, err := up.FindUploaded(ctx, f, parent)
		if err != nil {
			return fmt.Errorf("look for file %s: %w", f.Key, err)
		}
		if !found {
			if err := up.Upload(ctx, f, parent); err != nil {
				return fmt.Errorf("share file %s in %s: %w", f.Key, f.Channel, err)
			}
		}
		return store.Update(ctx, func(tx Tx) error {
			_, err := tx.MarkSent(uploadSentKey(f.Key), clock.Now())
			return err
		})
	}
}
