package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

// stopped launches id, lets it run, stops it and waits for the stop.
func (r *rig) stopped(t *testing.T, id string) workflows.Instance {
	t.Helper()
	in := r.launched(t, id)
	r.clock.Advance(time.Hour)
	if _, err := r.ec2.End(context.Background(), in, workflows.EndStop); err != nil {
		t.Fatalf("stop %s: %v", id, err)
	}
	r.clock.Advance(ec2fake.DefaultDelays.Stop)
	return in
}

func TestStart_StartsOurStoppedInstanceAndReportsTheNewLaunchTime(t *testing.T) {
	r := newRig(t, false)
	in := r.stopped(t, "srv-30")
	r.clock.Advance(10 * time.Hour)
	got, err := r.ec2.Start(context.Background(), in)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if got.State != workflows.InstancePending || !got.LaunchTime.After(in.LaunchTime) {
		t.Fatalf("start returned %s launched %s, want pending with a launch time after %s", got.State, got.LaunchTime, in.LaunchTime)
	}
	calls := r.fake.CallsOf("StartInstances")
	if len(calls) != 1 || calls[0].Params.Get("InstanceId.1") != in.ID {
		t.Fatalf("StartInstances calls = %+v, want one for %s", calls, in.ID)
	}
	// A retry with the old record (the crash came before opsbot saved the
	// new launch time) finds it started: no second call, no refusal.
	again, err := r.ec2.Start(context.Background(), in)
	if err != nil || !again.LaunchTime.Equal(got.LaunchTime) {
		t.Fatalf("second start = %+v, %v; want the same started instance", again, err)
	}
	// With the new record, starting a running instance is a no-op too.
	r.clock.Advance(ec2fake.DefaultDelays.Launch)
	if _, err := r.ec2.Start(context.Background(), got); err != nil {
		t.Fatalf("start of a running instance: %v", err)
	}
	if n := r.countCalls("StartInstances"); n != 1 {
		t.Errorf("StartInstances calls = %d, want 1", n)
	}
	// The guard in front of stop knows the instance by its new launch time.
	if _, err := r.ec2.End(context.Background(), got, workflows.EndStop); err != nil {
		t.Errorf("stop after the start with the new record: %v", err)
	}
}

func TestStart_RefusesAnInstanceThatIsNotOurs(t *testing.T) {
	r := newRig(t, false)
	in := r.stopped(t, "srv-31")
	other := r.stopped(t, "srv-32")
	for _, tc := range []struct {
		name string
		edit func(w *workflows.Instance)
	}{
		{"launch time differs", func(w *workflows.Instance) { w.LaunchTime = w.LaunchTime.Add(time.Second) }},
		{"request tag differs", func(w *workflows.Instance) { w.Tags = map[string]string{workflows.TagRequest: "srv-99"} }},
		{"another request's instance", func(w *workflows.Instance) { w.ID = other.ID }},
		{"unknown instance", func(w *workflows.Instance) { w.ID = "i-00000000000000000" }},
		{"no launch time recorded", func(w *workflows.Instance) { w.LaunchTime = time.Time{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := in
			want.Tags = map[string]string{workflows.TagManaged: "true", workflows.TagRequest: "srv-31"}
			tc.edit(&want)
			if _, err := r.ec2.Start(context.Background(), want); !errors.Is(err, workflows.ErrNotOurs) {
				t.Fatalf("start = %v, want ErrNotOurs", err)
			}
		})
	}
	// The managed tag taken away outside opsbot: not ours any more.
	if err := r.ec2.Retag(context.Background(), in, map[string]string{workflows.TagManaged: "false"}); err != nil {
		t.Fatalf("retag: %v", err)
	}
	if _, err := r.ec2.Start(context.Background(), in); !errors.Is(err, workflows.ErrNotOurs) {
		t.Fatalf("start without the managed tag = %v, want ErrNotOurs", err)
	}
	if n := r.countCalls("StartInstances"); n != 0 {
		t.Errorf("fake saw %d start calls, want none", n)
	}
}

func TestStart_StoppingIsRetriedTerminatedIsPermanentDryRunChangesNothing(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-33")
	r.clock.Advance(time.Hour)
	if _, err := r.ec2.End(context.Background(), in, workflows.EndStop); err != nil {
		t.Fatal(err)
	}
	// Still stopping: a plain error, so the job runner tries again.
	_, err := r.ec2.Start(context.Background(), in)
	if err == nil || errors.Is(err, workflows.ErrNotOurs) || workflows.IsPermanent(err) {
		t.Fatalf("start while stopping = %v, want a retryable error", err)
	}
	r.clock.Advance(ec2fake.DefaultDelays.Stop)
	dry := newRigSharing(t, r, true)
	if _, err := dry.Start(context.Background(), in); !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry-run start = %v, want ErrDryRun", err)
	}
	if f, _ := r.fake.Instance(in.ID); f.State != ec2fake.Stopped {
		t.Fatalf("after a dry-run start the fake says %s, want stopped", f.State)
	}
	if _, err := r.ec2.End(context.Background(), in, workflows.EndTerminate); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ec2.Start(context.Background(), in); err == nil || !workflows.IsPermanent(err) {
		t.Fatalf("start of a terminated instance = %v, want a permanent error", err)
	}
}
