package bot

import (
	"net/http"
	"testing"
	"time"
)

// Slack's published example (api.slack.com/authentication/verifying-requests-from-slack).
const (
	exampleSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	exampleTS     = "1531420618"
	exampleSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func exampleHeader() http.Header {
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", exampleTS)
	h.Set("X-Slack-Signature", exampleSig)
	return h
}

func TestVerify_SlackPublishedExample(t *testing.T) {
	at := time.Unix(1531420618, 0).Add(30 * time.Second)
	if err := Verify(exampleHeader(), []byte(exampleBody), exampleSecret, at); err != nil {
		t.Fatalf("published example rejected: %v", err)
	}
	if got := Sign(exampleSecret, []byte(exampleBody), time.Unix(1531420618, 0)).Get("X-Slack-Signature"); got != exampleSig {
		t.Fatalf("Sign = %s, want %s", got, exampleSig)
	}
}

func TestVerify_Rejects(t *testing.T) {
	at := time.Unix(1531420618, 0)
	tests := []struct {
		name   string
		header http.Header
		body   string
		secret string
		now    time.Time
		want   error
	}{
		{"stale by six minutes", exampleHeader(), exampleBody, exampleSecret, at.Add(6 * time.Minute), errStale},
		{"from the future", exampleHeader(), exampleBody, exampleSecret, at.Add(-6 * time.Minute), errStale},
		{"body changed", exampleHeader(), exampleBody + "x", exampleSecret, at, errSignature},
		{"wrong secret", exampleHeader(), exampleBody, "other", at, errSignature},
		{"unsigned", http.Header{}, exampleBody, exampleSecret, at, errUnsigned},
		{"no secret configured", exampleHeader(), exampleBody, "", at, errUnsigned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.header, []byte(tt.body), tt.secret, tt.now); err != tt.want {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
