package aws_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/opsbot/opsbot/integrations/aws/ec2fake"
	"github.com/opsbot/opsbot/workflows"
)

// TestKeyPairs_ListFindInstancesDelete goes through the real SDK to the
// fake: every key pair with its tags, the instances launched with some
// key names (the key-name filter; terminated ones left out), a delete by
// ID that happens once (a second is not an error), and a dry run that
// deletes nothing.
func TestKeyPairs_ListFindInstancesDelete(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	id := r.fake.AddKeyPair("us-east-1", "ops", map[string]string{"Owner": "ada@example.com"})
	r.fake.AddKeyPair("us-east-1", "other", nil)
	r.fake.AddKeyPair("eu-west-1", "ops", nil)
	in := r.launched(t, "srv-1") // with key pair "ops"

	kps, err := r.ec2.KeyPairs(ctx, "", "us-east-1")
	if err != nil || len(kps) != 2 || kps[0].ID != id || kps[0].Tags["Owner"] != "ada@example.com" || kps[0].Created.IsZero() || kps[0].Fingerprint == "" {
		t.Fatalf("KeyPairs = %+v, %v", kps, err)
	}
	ins, err := r.ec2.InstancesWithKeys(ctx, "", "us-east-1", []string{"ops"})
	if err != nil || len(ins) != 1 || ins[0].ID != in.ID || ins[0].KeyName != "ops" || ins[0].Tags[workflows.TagRequest] != "srv-1" {
		t.Fatalf("InstancesWithKeys = %+v, %v", ins, err)
	}
	if ins, err := r.ec2.InstancesWithKeys(ctx, "", "us-east-1", []string{"other"}); err != nil || len(ins) != 0 {
		t.Fatalf("InstancesWithKeys(other) = %+v, %v", ins, err)
	}

	dry := newRigSharing(t, r, true)
	if err := dry.DeleteKeyPair(ctx, "", "us-east-1", id); !errors.Is(err, workflows.ErrDryRun) {
		t.Fatalf("dry-run delete: %v", err)
	}
	if len(r.fake.KeyPairs()) != 3 {
		t.Fatal("a dry run deleted a key pair")
	}
	if err := r.ec2.DeleteKeyPair(ctx, "", "us-east-1", id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := r.ec2.DeleteKeyPair(ctx, "", "us-east-1", id); err != nil {
		t.Fatalf("delete again (gone already): %v", err)
	}
	if kps, _ := r.ec2.KeyPairs(ctx, "", "us-east-1"); len(kps) != 1 || kps[0].Name != "other" {
		t.Fatalf("after delete: %+v", kps)
	}
	if kps, _ := r.ec2.KeyPairs(ctx, "", "eu-west-1"); len(kps) != 1 {
		t.Fatalf("another region's key pair went too: %+v", kps)
	}
	if calls := r.fake.CallsOf("DeleteKeyPair"); len(calls) != 3 || calls[0].Params.Get("KeyPairId") != id || !calls[0].DryRun {
		t.Fatalf("DeleteKeyPair calls: %+v", calls)
	}
}

// TestFake_KeyPairsAndSnapshotsSurviveRestore: the fake's persisted
// state keeps key pairs (and their IDs) and EBS snapshots.
func TestFake_KeyPairsAndSnapshotsSurviveRestore(t *testing.T) {
	r := newRig(t, false)
	ctx := context.Background()
	id := r.fake.AddKeyPair("us-east-1", "ops", map[string]string{"Owner": "ada@example.com"})
	in := r.launched(t, "srv-1")
	r.clock.Advance(60e9)
	snap, err := r.ec2.Snapshot(ctx, in, map[string]string{workflows.TagManaged: "true", "opsbot:op": "op-1"})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	b, err := r.fake.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(b, &probe) != nil || probe["key_pairs"] == nil || probe["ebs_snapshots"] == nil {
		t.Fatalf("snapshot lacks key pairs or EBS snapshots: %s", b)
	}
	fresh := ec2fake.New(r.clock.Now)
	if err := fresh.Restore(b); err != nil {
		t.Fatal(err)
	}
	if kps := fresh.KeyPairs(); len(kps) != 1 || kps[0].ID != id || kps[0].Tags["Owner"] != "ada@example.com" {
		t.Fatalf("key pairs after restore: %+v", kps)
	}
	if ss := fresh.Snapshots(); len(ss) != 1 || ss[0].ID != snap.ID {
		t.Fatalf("snapshots after restore: %+v", ss)
	}
	// A key pair added after the restore gets a new ID.
	if id2 := fresh.AddKeyPair("us-east-1", "ops2", nil); id2 == id {
		t.Fatalf("a restored fake reused key pair ID %s", id)
	}
}
