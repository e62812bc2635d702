package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/PagerDuty/go-pagerduty/webhookv3"
	"github.com/slack-go/slack"
)

// serveBare is the baseline: `loadtest bare LISTEN`, run as a process of
// its own. POST /webhooks/pagerduty only verifies the V3 signature
// (go-pagerduty's webhookv3) and answers 202; POST /slack/commands is the
// handler slack-go's README shows: verify with SecretsVerifier, parse the
// command, answer a message. Neither stores anything.
func serveBare(ctx context.Context, listen string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/pagerduty", func(w http.ResponseWriter, r *http.Request) {
		if err := webhookv3.VerifySignature(r, pdSecret); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		sv, err := slack.NewSecretsVerifier(r.Header, slackSecret)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(io.TeeReader(r.Body, &sv))
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "bad command", http.StatusBadRequest)
			return
		}
		if err := sv.Ensure(); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"response_type":"ephemeral","text":"%s received"}`, cmd.Command)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Fprintln(os.Stderr, "bare handlers on", ln.Addr())
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}
