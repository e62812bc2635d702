package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/opsbot/opsbot/integrations/slack/slackfake"
	"github.com/opsbot/opsbot/internal/chart"
	"github.com/opsbot/opsbot/store"
	"github.com/opsbot/opsbot/workflows"
)

func picture(t *testing.T) []byte {
	t.Helper()
	b, err := chart.Chart{Title: "alerts", Labels: []string{"a", "b"},
		Series: []chart.Series{{Name: "high", Values: []float64{3, 5}}}}.PNG()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// queueFile puts f in the outbox and claims its job.
func queueFile(t *testing.T, db *store.DB, f workflows.File) (workflows.Job, bool) {
	t.Helper()
	ctx := context.Background()
	if err := db.Update(ctx, func(tx workflows.Tx) error { return workflows.EnqueueUpload(tx, f, t0) }); err != nil {
		t.Fatal(err)
	}
	jobs, err := db.Claim(ctx, t0, "test", lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Kind == workflows.JobUpload {
			return j, true
		}
	}
	return workflows.Job{}, false
}

// The picture goes out in Slack's three steps, through slack-go: the
// announced length, the bytes at the upload URL, then the share with its
// title, comment and thread; the shared file holds exactly the bytes.
func TestUpload_SharesThePictureInThreeSteps(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	db := openStore(t)
	ctx := context.Background()
	parent, err := e.c.Post(ctx, workflows.Message{Key: "review:payments", Channel: "#ops", Text: "review"}, workflows.MessageRef{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx workflows.Tx) error { return tx.PutMessageRef("review:payments", parent, t0) }); err != nil {
		t.Fatal(err)
	}
	png := picture(t)
	f := workflows.File{Key: "review:payments:chart", Channel: "#ops", Thread: "review:payments", Name: "alerts.png",
		Title: "Alerts by week", AltText: "bars of alerts by week", Comment: "Alerts <!channel> & co", Data: png}
	j, ok := queueFile(t, db, f)
	if !ok {
		t.Fatal("no upload job")
	}
	if err := workflows.DeliverUpload(db, e.c, e.clock)(ctx, j); err != nil {
		t.Fatal(err)
	}
	get := e.fake.CallsTo("files.getUploadURLExternal")
	done := e.fake.CallsTo("files.completeUploadExternal")
	if len(get) != 1 || len(done) != 1 {
		t.Fatalf("calls: %d getUploadURLExternal, %d completeUploadExternal", len(get), len(done))
	}
	if get[0].Params.Get("length") != itoa(len(png)) || get[0].Params.Get("alt_txt") != f.AltText ||
		!strings.HasPrefix(get[0].Params.Get("filename"), "alerts-") {
		t.Errorf("getUploadURLExternal params: %v", get[0].Params)
	}
	p := done[0].Params
	if p.Get("channel_id") != ops.ID || p.Get("thread_ts") != parent.TS || p.Get("initial_comment") != "Alerts &lt;!channel&gt; &amp; co" {
		t.Errorf("completeUploadExternal params: %v", p)
	}
	var files []map[string]string
	if err := json.Unmarshal([]byte(p.Get("files")), &files); err != nil || len(files) != 1 || files[0]["title"] != "Alerts by week" {
		t.Errorf("files = %s (%v)", p.Get("files"), err)
	}
	msgs := e.fake.Messages(ops.ID)
	if len(msgs) != 2 || len(msgs[1].Files) != 1 || msgs[1].ThreadTS != parent.TS {
		t.Fatalf("messages: %+v", msgs)
	}
	if got := msgs[1].Files[0]; !bytes.Equal(got.Data, png) || got.Title != "Alerts by week" {
		t.Fatalf("shared file: %d bytes, title %q", len(got.Data), got.Title)
	}
	// Done: queued again under its key, it is not shared again.
	if err := db.Done(ctx, j, t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := queueFile(t, db, f); ok {
		t.Fatal("a file already shared was queued again")
	}
}

// crashAfterUpload shares the file and then "dies" before the job can
// record it, as after a lost reply or a killed process.
type crashAfterUpload struct {
	*Client
	crashes int
}

func (c *crashAfterUpload) Upload(ctx context.Context, f workflows.File, parent workflows.MessageRef) error {
	if err := c.Client.Upload(ctx, f, parent); err != nil {
		return err
	}
	if c.crashes > 0 {
		c.crashes--
		return errors.New("connection reset (simulated death after files.completeUploadExternal)")
	}
	return nil
}

// A job that dies after the share and runs again finds the shared file
// (the bot's message carrying the file named for the key) and shares
// nothing more; a run after it was recorded calls Slack not at all.
func TestUpload_RunAgainAfterShareIsNotSharedTwice(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID(), e.alice.ID}})
	db := openStore(t)
	ctx := context.Background()
	f := workflows.File{Key: "cost:2026-11", Channel: ops.ID, Name: "cost.png", Data: picture(t)}
	j, _ := queueFile(t, db, f)
	up := &crashAfterUpload{Client: e.c, crashes: 1}
	deliver := workflows.DeliverUpload(db, up, e.clock)
	if err := deliver(ctx, j); err == nil {
		t.Fatal("the first run did not see its crash")
	}
	// Someone else posts meanwhile: the search reads past it.
	if _, err := e.fake.PostAs(e.alice.ID, ops.ID, "cost.png looks odd"); err != nil {
		t.Fatal(err)
	}
	j.Attempts++
	if err := deliver(ctx, j); err != nil {
		t.Fatalf("run after the crash: %v", err)
	}
	shared := 0
	for _, m := range e.fake.Messages(ops.ID) {
		shared += len(m.Files)
	}
	if shared != 1 || len(e.fake.CallsTo("files.completeUploadExternal")) != 1 {
		t.Fatalf("%d files shared, %d completes; want 1", shared, len(e.fake.CallsTo("files.completeUploadExternal")))
	}
	before := len(e.fake.Calls())
	if err := deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Calls()) - before; n != 0 {
		t.Fatalf("a recorded upload made %d more calls", n)
	}
	// A different key with the same file name is a different file.
	g := f
	g.Key = "cost:2026-12"
	if found, err := e.c.FindUploaded(ctx, g, workflows.MessageRef{}); err != nil || found {
		t.Fatalf("FindUploaded(other key) = %v, %v", found, err)
	}
}

// Slack's refusals come back as permanent errors the outbox buries: a
// channel the bot is not in, one that does not exist, a file larger than
// the workspace takes.
func TestUpload_RefusalsArePermanent(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	outside := e.fake.AddChannel(slackfake.Channel{Name: "outside", Members: []string{e.alice.ID}})
	e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	ctx := context.Background()
	cases := []struct {
		name, channel, code string
		max                 int64
	}{
		{"not in channel", outside.ID, "not_in_channel", 0},
		{"no such channel", "C0NOSUCH1", "invalid_channel", 0},
		{"too large", "#ops", "file_upload_size_restricted", 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.max > 0 {
				e.fake.SetMaxFileSize(c.max)
				defer e.fake.SetMaxFileSize(slackfake.DefaultMaxFileSize)
			}
			err := e.c.Upload(ctx, workflows.File{Key: "k", Channel: c.channel, Name: "x.png", Data: picture(t)}, workflows.MessageRef{})
			if SlackError(err) != c.code || !workflows.IsPermanent(err) {
				t.Fatalf("err = %v (code %q, permanent %v), want permanent %s", err, SlackError(err), workflows.IsPermanent(err), c.code)
			}
		})
	}
}

// The fake speaks the wire format as Slack documents it, checked with
// plain HTTP where slack-go would refuse to send the request.
func TestFake_UploadWireFormat(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	post := func(method string, v url.Values) map[string]any {
		t.Helper()
		v.Set("token", e.fake.Token())
		resp, err := http.PostForm(e.fake.APIURL()+method, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := post("files.getUploadURLExternal", url.Values{"filename": {"a.png"}}); got["error"] != "invalid_arguments" {
		t.Errorf("no length: %v", got)
	}
	if got := post("files.getUploadURLExternal", url.Values{"filename": {"a.png"}, "length": {"0"}}); got["error"] != "missing_argument" {
		t.Errorf("length 0: %v", got)
	}
	if got := post("files.getUploadURLExternal", url.Values{"filename": {"a.png"}, "length": {"3"}, "alt_txt": {strings.Repeat("x", 1001)}}); got["error"] != "alt_txt_too_large" {
		t.Errorf("long alt_txt: %v", got)
	}
	got := post("files.getUploadURLExternal", url.Values{"filename": {"a.png"}, "length": {"3"}})
	up, id := got["upload_url"].(string), got["file_id"].(string)
	if got["ok"] != true || !strings.HasPrefix(up, e.fake.URL()) || !strings.HasPrefix(id, "F") {
		t.Fatalf("getUploadURLExternal: %v", got)
	}
	// Completing before the bytes arrived: the file is not found.
	files := `[{"id":"` + id + `","title":"A"}]`
	if got := post("files.completeUploadExternal", url.Values{"files": {files}, "channel_id": {ops.ID}}); got["error"] != "file_not_found" {
		t.Errorf("complete before upload: %v", got)
	}
	// More bytes than announced are refused; raw bytes are accepted.
	resp, err := http.Post(up, "application/octet-stream", strings.NewReader("abcd"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("4 bytes for 3: status %d", resp.StatusCode)
	}
	resp, err = http.Post(up, "application/octet-stream", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "OK - 3" {
		t.Errorf("upload: %d %q", resp.StatusCode, body)
	}
	if got := post("files.completeUploadExternal", url.Values{"files": {"nope"}}); got["error"] != "invalid_arguments" {
		t.Errorf("files not JSON: %v", got)
	}
	got = post("files.completeUploadExternal", url.Values{"files": {files}, "channel_id": {ops.ID}, "initial_comment": {"hi"}})
	if got["ok"] != true {
		t.Fatalf("complete: %v", got)
	}
	if fs := got["files"].([]any); len(fs) != 1 || fs[0].(map[string]any)["id"] != id || fs[0].(map[string]any)["title"] != "A" {
		t.Errorf("complete answer files: %v", got["files"])
	}
	// Completed once: the upload is gone.
	if got := post("files.completeUploadExternal", url.Values{"files": {files}, "channel_id": {ops.ID}}); got["error"] != "file_not_found" {
		t.Errorf("second complete: %v", got)
	}
	// History shows the file on the bot's message.
	h := post("conversations.history", url.Values{"channel": {ops.ID}})
	msgs := h["messages"].([]any)
	m := msgs[0].(map[string]any)
	fs, _ := m["files"].([]any)
	if len(fs) != 1 || fs[0].(map[string]any)["name"] != "a.png" || m["text"] != "hi" || m["upload"] != true {
		t.Errorf("history message: %v", m)
	}
}

func itoa(n int) string { return jsonNum(n) }

func jsonNum(n int) string { b, _ := json.Marshal(n); return string(b) }

// A file described as a chart is drawn here, as a PNG, the same bytes
// on every attempt; a chart the drawing refuses is a permanent error.
func TestUpload_ChartIsDrawnAsAPicture(t *testing.T) {
	e := setup(t, slackfake.Options{}, Options{})
	ops := e.fake.AddChannel(slackfake.Channel{Name: "ops", Members: []string{e.fake.BotUserID()}})
	ctx := context.Background()
	c := workflows.Chart{Title: "Incidents per day", Labels: []string{"1", "2", "3"}, Stacked: true,
		Series: []workflows.ChartSeries{{Name: "high", Values: []float64{1, 0, 3}}, {Name: "low", Values: []float64{2, 2, 0}}}}
	if err := e.c.Upload(ctx, workflows.File{Key: "chart:1", Channel: "#ops", Name: "c.png", Chart: &c}, workflows.MessageRef{}); err != nil {
		t.Fatal(err)
	}
	want, err := DrawChart(c)
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.fake.Messages(ops.ID)
	if len(msgs) != 1 || len(msgs[0].Files) != 1 || !bytes.Equal(msgs[0].Files[0].Data, want) {
		t.Fatalf("shared: %+v", msgs)
	}
	if _, err := png.Decode(bytes.NewReader(msgs[0].Files[0].Data)); err != nil {
		t.Fatal(err)
	}
	bad := workflows.Chart{Title: "x", Labels: []string{"1"}, Series: []workflows.ChartSeries{{Name: "a", Values: []float64{math.Inf(1)}}}}
	err = e.c.Upload(ctx, workflows.File{Key: "chart:2", Channel: "#ops", Name: "c.png", Chart: &bad}, workflows.MessageRef{})
	if err == nil || !workflows.IsPermanent(err) {
		t.Fatalf("an undrawable chart: %v", err)
	}
}
