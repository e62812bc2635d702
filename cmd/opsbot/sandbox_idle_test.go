package main

import (
	"strings"
	"testing"
	"time"

	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_IdleServerIsFlagged: in the sandbox every server idles in
// the fake CloudWatch, so a test-small left running for a day is flagged
// to its owner with Stop / Release / Keep, with no AWS account.
func TestSandbox_IdleServerIsFlagged(t *testing.T) {
	rs := startSandbox(t)
	general, _ := channelNamed(rs.state(sandbox.Dana), "general")
	rs.act("/api/slack/command", map[string]any{"user": sandbox.Dana, "channel": general, "text": "/ops server request test-small for 3d idle check"})
	rs.eventually("the instance launched", 15*time.Second, func() (bool, string) {
		return len(rs.state(sandbox.Dana).Instances) == 1, "no instance"
	})
	rs.act("/api/clock/advance", map[string]any{"duration": "10s"})
	rs.act("/api/clock/advance", map[string]any{"duration": "1d"})
	rs.act("/api/clock/advance", map[string]any{"duration": "2h"})
	rs.eventually("the idle flag in Dana's DMs", 15*time.Second, func() (bool, string) {
		_, dm := channelNamed(rs.state(sandbox.Dana), "dm")
		return strings.Contains(dm, "looks idle") && strings.Contains(dm, "Keep (no more idle flags this lease)"), dm
	})
}
