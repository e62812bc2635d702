package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
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
//
// With a database path (`loadtest bare LISTEN DB`), the PagerDuty handler
// also stores each event durably and once before it answers, the
// simplest way there is: one INSERT … ON CONFLICT DO NOTHING of the
// event's ID and body, in a transaction of its own, into a SQLite file
// opened as opsbot opens its own (WAL, synchronous NORMAL, one writer).
// It is the reference for what a durable, de-duplicating insert costs on
// this machine.
func serveBare(ctx context.Context, listen, dbPath string) error {
	insert, closeDB, err := openInsert(ctx, dbPath)
	if err != nil {
		return err
	}
	defer closeDB()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/pagerduty", func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if insert != nil {
			var err error
			if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
				http.Error(w, "cannot read body", http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if err := webhookv3.VerifySignature(r, pdSecret); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if insert != nil {
			if err := insert(r.Context(), body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
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

// openInsert opens the reference insert's database, when path is set.
func openInsert(ctx context.Context, path string) (insert func(ctx context.Context, body []byte) error, closeDB func(), err error) {
	if path == "" {
		return nil, func() {}, nil
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; a pool would only wait on its lock
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS events (event_id TEXT PRIMARY KEY, body BLOB NOT NULL)`); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("create the events table: %w", err)
	}
	insert = func(ctx context.Context, body []byte) error {
		var env struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.Event.ID == "" {
			return fmt.Errorf("no event ID: %v", err)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO events (event_id, body) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`, env.Event.ID, body)
		return err
	}
	return insert, func() { db.Close() }, nil
}
