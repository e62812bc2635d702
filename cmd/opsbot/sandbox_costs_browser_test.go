package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/opsbot/opsbot/sandbox"
)

// TestSandbox_CostReviewInTheBrowser clicks the page's "Cost review"
// button as Avery, opens #cost-review and the review's thread (the
// chart, the idle servers), and takes a picture of the page. With
// $OPSBOT_COST_REVIEW_PNG set the picture is written there: that is how
// docs/img/cost-review.png is made (see docs/costs.md).
func TestSandbox_CostReviewInTheBrowser(t *testing.T) {
	exe := needChromium(t)
	rs := startSandbox(t)
	b := openBrowser(t, exe, 1500, 940, t.TempDir())
	b.run("open the page as Avery", 30*time.Second,
		chromedp.Navigate(rs.url+"/"),
		chromedp.WaitVisible(css(`#channel-list li[data-name="cost-review"]`)),
		be(sandbox.Avery),
		chromedp.Click(css(`#channel-list li[data-name="cost-review"]`)))
	b.run("hold the cost review", 90*time.Second,
		chromedp.Click(css("#cost-review")),
		waitText("#messages", "Monthly cost review"),
		waitText("#messages", "Top movers"),
		waitText("#messages .replies", "repl"))
	b.run("open its thread: the chart", 60*time.Second,
		chromedp.Click(css("#messages .replies")),
		chromedp.WaitVisible(css("#thread-messages img")),
		// For the picture: the Slack part only, the thread wide enough
		// for the chart, the review's top and the chart in view.
		discard(chromedp.Evaluate[bool](`(() => {
			document.getElementById("tools").style.display = "none";
			document.getElementById("toast").hidden = true;
			document.getElementById("thread-composer").style.display = "none";
			document.getElementById("sidebar").style.width = "190px";
			document.getElementById("thread").style.width = "700px";
			const ms = document.querySelectorAll("#messages .msg");
			for (const m of ms) { if (m.innerText.includes("Monthly cost review")) { m.scrollIntoView(true); } }
			const img = document.querySelector("#thread-messages img");
			img.scrollIntoView(false);
			return true;
		})()`)),
		chromedp.Sleep(500*time.Millisecond))
	png, err := chromedp.Run(b.ctx, chromedp.Screenshot(css("#layout")))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("the review's picture: %d bytes", len(png))
	if out := os.Getenv("OPSBOT_COST_REVIEW_PNG"); out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
