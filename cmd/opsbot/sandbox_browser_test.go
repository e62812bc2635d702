package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/opsbot/opsbot/sandbox"
	"github.com/opsbot/opsbot/workflows"
)

// chromium finds Debian's chromium (or a Chrome) to drive.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser drives the sandbox page in headless Chromium and saves a
// screenshot after each step.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	shot int
}

// needChromium gives the chromium binary the browser tests drive, or
// skips t: without one, or in -short mode.
func needChromium(t *testing.T) string {
	t.Helper()
	exe := chromium()
	if exe == "" {
		t.Skip("no chromium binary: install Debian's chromium package to run the browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	return exe
}

// openBrowser starts a headless chromium (exe) for t with a window of
// width×height, in UTC, its screenshots going to dir; it is closed when
// t ends. The first action starts the browser, which lives as long as
// the context of that call: it is given t's, not a step's timeout.
func openBrowser(t *testing.T, exe string, width, height int, dir string) *browser {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(width, height),
		chromedp.Env("TZ=UTC"))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: ctx, dir: dir}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

func (b *browser) run(step string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed-" + step)
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("write %s: %v", path, err)
	}
}

// be switches who the page acts as, with the "You are" menu.
func be(user string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS("#whoami"), user),
		discard(chromedp.Evaluate[bool](`document.getElementById("whoami").dispatchEvent(new Event("change"))`)),
		chromedp.Sleep(300*time.Millisecond),
	)
}

// discard runs an action for its effect.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// css is a CSS selector for the first match.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// waitText waits until the element matching sel contains text.
func waitText(sel, text string) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, text)
	return discard(chromedp.Poll[bool](js, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(time.Minute)))
}

// TestSandbox_InTheBrowser is the sandbox issue's walk-through, done by
// clicking and typing in the page: request, approve, running, lease
// warning, stopped, incident channel with pinned summary, post-mortem.
// Screenshots go to $OPSBOT_SCREENSHOTS (kept) or a temporary folder.
func TestSandbox_InTheBrowser(t *testing.T) {
	exe := needChromium(t)
	began := workflows.SystemClock{}.Now()
	dir := os.Getenv("OPSBOT_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	rs := startSandbox(t)

	b := openBrowser(t, exe, 1680, 1000, dir)

	b.run("open the page", 30*time.Second,
		chromedp.Navigate(rs.url+"/"),
		chromedp.WaitVisible(css(`#channel-list li[data-name="general"]`)),
		be(sandbox.Dana),
		chromedp.Click(css(`#channel-list li[data-name="general"]`)))
	b.run("open the request form as Dana", 20*time.Second,
		chromedp.SendKeys(css("#composer-input"), "/ops server request"+kb.Enter),
		chromedp.WaitVisible(css("#modal .m-submit")))
	b.screenshot("request-modal")
	b.run("cancel the form", 10*time.Second,
		chromedp.Click(css("#modal .m-cancel")),
		chromedp.WaitNotVisible(css("#modal-backdrop")))
	b.run("request a build box as Dana", 20*time.Second,
		chromedp.SendKeys(css("#composer-input"), "/ops server request build-box for 1d load tests"+kb.Enter),
		chromedp.WaitVisible(css(`#messages .msg.ephemeral`)))
	b.screenshot("dana-requests-build-box")

	b.run("see the approval request as Avery", 20*time.Second,
		be(sandbox.Avery),
		chromedp.Click(css(`#channel-list li[data-name="platform-approvals"]`)),
		chromedp.WaitVisible(css(`#messages button[data-action-id="approval.approve"]`)))
	b.screenshot("avery-sees-approval")
	b.run("approve", 20*time.Second,
		chromedp.Click(css(`#messages button[data-action-id="approval.approve"]`)),
		chromedp.WaitNotPresent(css(`#messages button[data-action-id="approval.approve"]`)))
	b.screenshot("avery-approved")

	b.run("see the instance running in EC2", 30*time.Second,
		chromedp.Click(css("#tab-ec2")),
		chromedp.WaitVisible(css(`#panel-ec2 tr.instance[data-state="running"]`)))
	b.screenshot("ec2-running")

	b.run("fast-forward a day as Dana", 60*time.Second,
		be(sandbox.Dana),
		chromedp.Click(css("#nav-dm")),
		chromedp.WaitEnabled(css("#ff-day")),
		chromedp.Click(css("#ff-day")),
		waitText("#messages", "lease ends in 1h"),
		// The warning shows while the day is still being stepped through;
		// the clock buttons come back when it is done (a click on them
		// before that would be lost).
		chromedp.WaitEnabled(css("#ff-hour")))
	b.screenshot("lease-warning-dm")
	b.run("fast-forward past the lease end", 60*time.Second,
		chromedp.WaitEnabled(css("#ff-hour")),
		chromedp.Click(css("#ff-hour")),
		chromedp.WaitVisible(css(`#panel-ec2 tr.instance[data-state="stopped"]`)))
	b.screenshot("ec2-stopped")
	b.run("open the App Home", 20*time.Second,
		chromedp.Click(css("#nav-home")),
		chromedp.WaitVisible(css("#home .blocks")))
	b.screenshot("app-home")

	b.run("trigger an incident in PagerDuty as Omar", 30*time.Second,
		be(sandbox.Omar),
		chromedp.Click(css("#tab-pagerduty")),
		chromedp.SendKeys(css("#pd-title"), "Checkout latency above 2s"),
		chromedp.Click(css("#pd-trigger")),
		chromedp.WaitVisible(css(`#channel-list li[data-name^="inc-"]`)),
		chromedp.Click(css(`#channel-list li[data-name^="inc-"]`)),
		chromedp.WaitVisible(css(`#messages .msg.pinned`)))
	b.screenshot("incident-channel")

	// An edited message's buttons still work: the page once re-parsed
	// the message to add "(edited)", which dropped their handlers.
	pinned := `#messages .msg.pinned`
	b.run("raise the severity, which edits the pinned summary", 30*time.Second,
		chromedp.SendKeys(css("#composer-input"), "/incident severity sev1"+kb.Enter),
		waitText(pinned, "(edited)"),
		waitText(pinned, "sev1"),
		chromedp.WaitVisible(css(`#messages .day-sep`)))
	b.run("click Acknowledge on the edited summary", 30*time.Second,
		chromedp.Click(css(pinned+` button[data-action-id="incident.ack"]`)),
		chromedp.WaitNotPresent(css(pinned+` button[data-action-id="incident.ack"]`)))
	b.screenshot("edited-summary-button-works")
	b.run("name a scribe by typing @dana", 30*time.Second,
		chromedp.SendKeys(css("#composer-input"), "/incident role scribe @dana"+kb.Enter),
		waitText("#messages", "is now Scribe"),
		waitText(pinned, "Dana Developer"))

	last := `#messages .msg:last-child`
	b.run("say what was done and mark it 📌 for the timeline", 30*time.Second,
		chromedp.SendKeys(css("#composer-input"), "Rolled back deploy 42"+kb.Enter),
		waitText(last, "Rolled back deploy 42"),
		chromedp.Click(css(last+` .msg-act[data-reaction="pushpin"]`)),
		chromedp.WaitVisible(css(last+` .reaction.mine[data-reaction="pushpin"]`)))
	b.run("reply in its thread", 30*time.Second,
		chromedp.Click(css(last+` .msg-act.reply`)),
		chromedp.WaitVisible(css("#thread-input")),
		chromedp.SendKeys(css("#thread-input"), "Latency back under 300ms"+kb.Enter),
		waitText("#thread-messages", "Latency back under 300ms"),
		waitText(last+" .replies", "1 reply"))
	b.screenshot("pinned-to-timeline-and-thread")

	b.run("resolve it and read the post-mortem", 60*time.Second,
		chromedp.Click(css(`#pd-incidents .pd-resolve`)),
		chromedp.WaitVisible(css(`#pd-incidents .inc[data-status="resolved"]`)),
		chromedp.Click(css("#tab-notion")),
		waitText("#panel-notion .n-page", "Checkout latency above 2s"),
		waitText("#panel-notion .n-page", "Rolled back deploy 42"))
	b.screenshot("notion-postmortem")
	t.Logf("browser walk-through took %s", workflows.SystemClock{}.Now().Sub(began).Round(time.Millisecond))
}
