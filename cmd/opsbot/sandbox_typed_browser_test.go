package main

import (
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
	exe := needChromium(t)
	rs := startSandbox(t)
	b := openBrowser(t, exe, 1680, 1000, t.TempDir())
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
