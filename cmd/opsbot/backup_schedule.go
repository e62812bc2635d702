package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsbot/opsbot/integrations/s3backup"
	"github.com/opsbot/opsbot/internal/backups"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

// scheduledBackups takes the backups the config's `backup:` section asks
// for. Its tick runs with the scheduler, on the replica that leads it;
// which slot is due is a function of (now, the last slot seen), and a
// slot is claimed in the database (a `sent` record) before its backup
// starts, so two replicas, or a leader that changed mid-slot, take it
// once. The backup runs beside the scheduler, not in it: a long one
// holds up no tick. A process that dies mid-backup leaves that slot
// without one; the next slot takes the next.
type scheduledBackups struct {
	app  *App
	dest backups.Dest
	// S3 are the client options (tests point them at the fake).
	S3 s3backup.Options

	mu      sync.Mutex
	last    time.Time // the last slot seen, or when opsbot started
	running bool
	wg      sync.WaitGroup
	ctx     context.Context // Run's: a backup in flight ends with it
}

// backupSlotKey records that a slot's backup was started.
func backupSlotKey(slot time.Time) string {
	return "backup-slot:" + slot.UTC().Format(time.RFC3339)
}

// Timeout bounds one scheduled backup.
const backupTimeout = time.Hour

// tick starts the due slot's backup, if one is due and none runs.
func (s *scheduledBackups) tick(ctx context.Context) error {
	cfg := s.app.Config.Backup
	now := s.app.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		return nil
	}
	slot, ok := backups.DueSlot(cfg.Schedule, s.last, now)
	if !ok {
		return nil
	}
	var mine bool
	err := s.app.DB.Update(ctx, func(tx workflows.Tx) (err error) {
		mine, err = tx.MarkSent(backupSlotKey(slot), now)
		return err
	})
	if err != nil {
		return fmt.Errorf("claim the backup of %s: %w", slot.Format(time.RFC3339), err)
	}
	s.last = slot
	if !mine {
		return nil // another replica took it
	}
	dest, err := s.destination(ctx)
	if err != nil {
		return err
	}
	format, err := backupFormat(cfg.Format, s.app.DB)
	if err != nil {
		return err
	}
	s.running = true
	s.wg.Add(1)
	bctx := s.ctx
	if bctx == nil {
		bctx = context.WithoutCancel(ctx)
	}
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.running = false
			s.mu.Unlock()
		}()
		s.take(bctx, dest, slot, format, now)
	}()
	return nil
}

func (s *scheduledBackups) destination(ctx context.Context) (backups.Dest, error) {
	if s.dest != nil {
		return s.dest, nil
	}
	isS3, bucket, prefix, _, _, err := backups.Split(s.app.Config.Backup.To)
	if err != nil {
		return nil, fmt.Errorf("backup.to: %w", err)
	}
	if !isS3 {
		s.dest = backups.Dir(s.app.Config.Backup.To)
		return s.dest, nil
	}
	b, err := s3backup.New(ctx, bucket, prefix, s.S3)
	if err != nil {
		return nil, err
	}
	s.dest = b
	return b, nil
}

// take makes the slot's backup, puts it in dest and prunes the oldest.
func (s *scheduledBackups) take(ctx context.Context, dest backups.Dest, slot time.Time, format string, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, backupTimeout)
	defer cancel()
	log := s.app.Log.With("component", "backup", "slot", slot.Format(time.RFC3339))
	began := time.Now()
	res, err := backupTo(ctx, s.app.DB, dest, backups.Name(slot, format), format, store.BackupInfo{Opsbot: version, Now: now})
	if err != nil {
		s.app.Metrics.observeTick("backup", err)
		log.Error("scheduled backup failed", "to", dest.String(), "err", err)
		return
	}
	s.app.Metrics.observeTick("backup", nil)
	log.Info("backup taken", "to", res.Where, "bytes", res.Size, "rows", res.Manifest.Rows(), "seconds", time.Since(began).Seconds())
	gone, err := backups.Prune(ctx, dest, s.app.Config.Backup.Keep)
	if err != nil {
		log.Error("prune old backups", "to", dest.String(), "err", err)
	}
	if len(gone) > 0 {
		log.Info("old backups pruned", "deleted", gone, "keep", s.app.Config.Backup.Keep)
	}
}

// wait waits for a backup in flight.
func (s *scheduledBackups) wait() { s.wg.Wait() }
