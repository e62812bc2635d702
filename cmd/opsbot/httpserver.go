package main

import (
	"net/http"
	"time"
)

// Timeouts of opsbot's HTTP server. Every route answers quickly (Slack
// wants an answer within 3 seconds; slow work continues in the
// background), so a client that dribbles its headers or body, reads the
// answer slowly, or holds an idle connection open is cut off rather than
// holding a connection and its goroutine for ever.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	// writeTimeout counts from the end of the headers, so it covers
	// reading the body too.
	writeTimeout = 40 * time.Second
	idleTimeout  = 2 * time.Minute
)

// serverTimeouts are the limits newHTTPServer sets; tests shorten them.
type serverTimeouts struct {
	readHeader, read, write, idle time.Duration
}

var defaultTimeouts = serverTimeouts{readHeaderTimeout, readTimeout, writeTimeout, idleTimeout}

// newHTTPServer is the server opsbot serve runs h on.
func newHTTPServer(h http.Handler, t serverTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write,
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    64 << 10,
	}
}
