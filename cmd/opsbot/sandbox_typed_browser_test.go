package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_TypedTextSentAsSlackSendsIt: Slack escapes &, < and > in
// what a person types (a command's text, a message) before opsbot sees
// it; the sandbox page sent them raw, so a title typed "p95 > 2s &
// <rising>" lost its "<rising>" to opsbot's reading of Slack's <…>
// references. The page now escapes what is typed, as Slack does, and the
// summary and a message marked for the timeline read as typed.
func TestSandbox_TypedTextSentAsSlackSendsIt(t *testing.T) {
	exe := chromium()
	if exe == "" {
		t.Skip("no chromium binary: install Debian's chromium package to run the browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	rs := startSandbox(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1680, 1000),
		chromedp.Env("TZ=UTC"))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancel()
	b := &browser{t: t, ctx: ctx, dir: t.TempDir()}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.run("open the page as Dana", 30*time.Second,
		chromedp.Navigate(rs.url+"/"),
		chromedp.WaitVisible(css(`#channel-list li[data-name="general"]`)),
		be(sandbox.Dana),
		chromedp.Click(css(`#channel-list li[data-name="general"]`)))
	pinned := `#messages .msg.pinned`
	b.run("declare an incident whose title has & < >", 60*time.Second,
		chromedp.SendKeys(css("#composer-input"), "/incident declare p95 > 2s & <rising> sev2"+kb.Enter),
		chromedp.WaitVisible(css(`#channel-list li[data-name^="inc-"]`)),
		chromedp.Click(css(`#channel-list li[data-name^="inc-"]`)),
		chromedp.WaitVisible(css(pinned)),
		waitText(pinned, "p95 > 2s & <rising>"))
}
