package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHTTPServer_CutsSlowAndIdleClients: a client that never finishes
// its headers, and one that keeps an answered connection idle, are both
// disconnected once their timeout passes (shortened here from
// defaultTimeouts).
func TestHTTPServer_CutsSlowAndIdleClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	short := serverTimeouts{readHeader: 200 * time.Millisecond, read: 300 * time.Millisecond, write: 300 * time.Millisecond, idle: 300 * time.Millisecond}
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }), short)
	go srv.Serve(ln)
	defer srv.Close()

	closedWithin := func(t *testing.T, c net.Conn, d time.Duration) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after %v", d)
		}
	}
	t.Run("headers never finished", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "POST /slack/events HTTP/1.1\r\nHost: x\r\n")
		closedWithin(t, c, 3*time.Second)
	})
	t.Run("idle after an answer", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), "ok") {
			t.Fatalf("answer %q", body)
		}
		closedWithin(t, c, 3*time.Second)
	})
	if defaultTimeouts.write == 0 || defaultTimeouts.idle == 0 || defaultTimeouts.readHeader == 0 {
		t.Fatalf("a default timeout is unset: %+v", defaultTimeouts)
	}
}
