package workflows

import (
	"encoding/json"
	"strings"
	"testing"
)

// A file job whose payload cannot be shared is refused when queued and
// given up when run: no key, no channel, no bytes, too many bytes, a
// name with a path in it.
func TestUploadPayload_RefusesWhatCannotBeShared(t *testing.T) {
	good := File{Key: "review:payments:2026-11-30:chart", Channel: "#payments", Name: "alerts.png", Data: []byte{1, 2, 3}}
	enc := func(f File) string { b, _ := json.Marshal(f); return string(b) }
	if err := ValidatePayload(Job{Kind: JobUpload, Payload: enc(good)}); err != nil {
		t.Fatalf("good file refused: %v", err)
	}
	bad := map[string]func(*File){
		"no key":     func(f *File) { f.Key = " " },
		"no channel": func(f *File) { f.Channel = "" },
		"no bytes":   func(f *File) { f.Data = nil },
		"too big":    func(f *File) { f.Data = make([]byte, MaxFileBytes+1) },
		"path":       func(f *File) { f.Name = "../etc/passwd" },
		"no name":    func(f *File) { f.Name = "" },
	}
	for name, spoil := range bad {
		f := good
		spoil(&f)
		if err := ValidatePayload(Job{Kind: JobUpload, Payload: enc(f)}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := ValidatePayload(Job{Kind: JobUpload, Payload: "{"}); err == nil || !strings.Contains(err.Error(), "upload") {
		t.Errorf("broken JSON: %v", err)
	}
	// A file follows its channel's messages.
	if got := MessageLane(Job{Kind: JobUpload, Payload: enc(good)}); got != "channel:#payments" {
		t.Errorf("lane = %q", got)
	}
}
