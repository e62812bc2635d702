package aws_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

func TestDescribe_PendingBecomesRunningWhenTheClockMoves(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-10")
	state := func() workflows.InstanceState {
		t.Helper()
		found, err := r.ec2.Describe(context.Background(), "", "us-east-1", []string{in.ID})
		if err != nil || len(found) != 1 {
			t.Fatalf("describe = %v, %v", found, err)
		}
		return found[0].State
	}
	if s := state(); s != workflows.InstancePending {
		t.Errorf("at launch: %s, want pending", s)
	}
	r.clock.Advance(ec2fake.DefaultDelays.Launch - time.Second)
	if s := state(); s != workflows.InstancePending {
		t.Errorf("just before the launch delay: %s, want pending", s)
	}
	r.clock.Advance(2 * time.Second)
	if s := state(); s != workflows.InstanceRunning {
		t.Errorf("after the launch delay: %s, want running", s)
	}
}

func TestDescribe_UnknownIDsAreLeftOut(t *testing.T) {
	r := newRig(t, false)
	a := r.launched(t, "srv-11")
	b := r.launched(t, "srv-12")
	for _, tc := range []struct {
		name string
		ids  []string
		want []string
	}{
		{"none asked", nil, nil},
		{"one unknown", []string{"i-00000000000000000"}, nil},
		{"known and unknown", []string{a.ID, "i-00000000000000000", b.ID}, []string{a.ID, b.ID}},
		{"all known", []string{b.ID, a.ID}, []string{a.ID, b.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found, err := r.ec2.Describe(context.Background(), "", "us-east-1", tc.ids)
			if err != nil {
				t.Fatalf("describe: %v", err)
			}
			got := map[string]bool{}
			for _, in := range found {
				got[in.ID] = true
				if in.Tags[workflows.TagManaged] != "true" {
					t.Errorf("%s described without its tags: %v", in.ID, in.Tags)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("found %v, want %v", got, tc.want)
			}
			for _, id := range tc.want {
				if !got[id] {
					t.Errorf("%s missing from %v", id, got)
				}
			}
		})
	}
}

func TestEnd_RefusesAnInstanceThatIsNotOurs(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-13")
	other := r.launched(t, "srv-14")
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
		for _, action := range []workflows.EndAction{workflows.EndStop, workflows.EndTerminate} {
			t.Run(tc.name+"/"+string(action), func(t *testing.T) {
				want := in
				want.Tags = map[string]string{workflows.TagManaged: "true", workflows.TagRequest: "srv-13"}
				tc.edit(&want)
				_, err := r.ec2.End(context.Background(), want, action)
				if !errors.Is(err, workflows.ErrNotOurs) {
					t.Fatalf("end = %v, want ErrNotOurs", err)
				}
			})
		}
	}
	if n := r.countCalls("StopInstances") + r.countCalls("TerminateInstances"); n != 0 {
		t.Errorf("fake saw %d stop/terminate calls, want none", n)
	}
}

func TestEnd_RefusesWhenTheManagedTagWasRemoved(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-15")
	// Someone outside opsbot takes the instance over.
	if err := r.ec2.Retag(context.Background(), in, map[string]string{workflows.TagManaged: "false"}); err != nil {
		t.Fatalf("retag: %v", err)
	}
	if _, err := r.ec2.End(context.Background(), in, workflows.EndTerminate); !errors.Is(err, workflows.ErrNotOurs) {
		t.Fatalf("end = %v, want ErrNotOurs", err)
	}
	if n := r.countCalls("TerminateInstances"); n != 0 {
		t.Errorf("terminate calls = %d, want 0", n)
	}
}

func TestEnd_StopsOrTerminatesOurInstance(t *testing.T) {
	for _, tc := range []struct {
		action     workflows.EndAction
		call       string
		now, later workflows.InstanceState
		laterFake  ec2fake.State
		delay      time.Duration
	}{
		{workflows.EndStop, "StopInstances", workflows.InstanceStopping, workflows.InstanceStopped, ec2fake.Stopped, ec2fake.DefaultDelays.Stop},
		{workflows.EndTerminate, "TerminateInstances", workflows.InstanceShuttingDown, workflows.InstanceTerminated, ec2fake.Terminated, ec2fake.DefaultDelays.Terminate},
	} {
		t.Run(string(tc.action), func(t *testing.T) {
			r := newRig(t, false)
			in := r.launched(t, "srv-16")
			r.clock.Advance(time.Hour)
			got, err := r.ec2.End(context.Background(), in, tc.action)
			if err != nil {
				t.Fatalf("end: %v", err)
			}
			if got.State != tc.now || got.ID != in.ID {
				t.Errorf("end returned %s %s, want %s %s", got.ID, got.State, in.ID, tc.now)
			}
			calls := r.fake.CallsOf(tc.call)
			if len(calls) != 1 || calls[0].Params.Get("InstanceId.1") != in.ID {
				t.Errorf("%s calls = %+v, want one for %s", tc.call, calls, in.ID)
			}
			r.clock.Advance(tc.delay)
			if f, _ := r.fake.Instance(in.ID); f.State != tc.laterFake {
				t.Errorf("after the delay the fake says %s, want %s", f.State, tc.laterFake)
			}
			// Ending again is a no-op: no second call.
			again, err := r.ec2.End(context.Background(), in, tc.action)
			if err != nil || again.State != tc.later {
				t.Errorf("second end = %s, %v; want %s", again.State, err, tc.later)
			}
			if n := r.countCalls(tc.call); n != 1 {
				t.Errorf("%s calls = %d after a second end, want 1", tc.call, n)
			}
		})
	}
}

func TestEnd_DryRunChangesNothing(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-17")
	r.clock.Advance(time.Hour)
	dry := newRigSharing(t, r, true)
	_, err := dry.End(context.Background(), in, workflows.EndTerminate)
	if !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry-run end = %v, want ErrDryRun", err)
	}
	if f, _ := r.fake.Instance(in.ID); f.State != ec2fake.Running {
		t.Errorf("after a dry-run terminate the instance is %s, want running", f.State)
	}
	calls := r.fake.CallsOf("TerminateInstances")
	if len(calls) != 1 || !calls[0].DryRun {
		t.Errorf("terminate calls = %+v, want one dry run", calls)
	}
}

func TestRetag_TagsInstanceAndVolume(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-18")
	end := "2025-03-20T00:00:00Z"
	if err := r.ec2.Retag(context.Background(), in, map[string]string{workflows.TagLeaseEnd: end}); err != nil {
		t.Fatalf("retag: %v", err)
	}
	f, _ := r.fake.Instance(in.ID)
	if f.Tags[workflows.TagLeaseEnd] != end || f.RootVolume.Tags[workflows.TagLeaseEnd] != end {
		t.Errorf("lease-end tag: instance %q, volume %q; want %q", f.Tags[workflows.TagLeaseEnd], f.RootVolume.Tags[workflows.TagLeaseEnd], end)
	}
	if f.Tags[workflows.TagRequest] != "srv-18" {
		t.Errorf("retag lost other tags: %v", f.Tags)
	}
	bad := in
	bad.LaunchTime = bad.LaunchTime.Add(-time.Hour)
	if err := r.ec2.Retag(context.Background(), bad, map[string]string{"x": "y"}); !errors.Is(err, workflows.ErrNotOurs) {
		t.Errorf("retag of a mismatch = %v, want ErrNotOurs", err)
	}
	if n := r.countCalls("CreateTags"); n != 1 {
		t.Errorf("CreateTags calls = %d, want 1", n)
	}
}

func TestDescribe_RetriesAServerError(t *testing.T) {
	r := newRig(t, false)
	in := r.launched(t, "srv-19")
	r.fake.FailNext("DescribeInstances", 1, "InternalError", 500)
	found, err := r.ec2.Describe(context.Background(), "", "us-east-1", []string{in.ID})
	if err != nil || len(found) != 1 {
		t.Fatalf("describe = %v, %v; want the instance after a retry", found, err)
	}
	if n := r.countCalls("DescribeInstances"); n != 2 {
		t.Errorf("DescribeInstances calls = %d, want 2", n)
	}
}
