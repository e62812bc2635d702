package notionfake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is a Notion error answer:
// {"object":"error","status":400,"code":"validation_error","message":"..."}.
type apiError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter int // seconds, for 429
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// invalid is Notion's answer to a body that breaks a size or shape rule.
func invalid(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "validation_error", "body failed validation: "+format, args...)
}

// tooLong is the message Notion gives for an over-long array or string:
// "body.children.length should be ≤ `100`, instead was `101`."
func tooLong(path string, max, was int) *apiError {
	return invalid("%s.length should be ≤ `%d`, instead was `%d`.", path, max, was)
}

func notFound(kind, id string) *apiError {
	return errorf(http.StatusNotFound, "object_not_found",
		"Could not find %s with ID: %s. Make sure the relevant pages and databases are shared with your integration.", kind, id)
}

// writeError answers with Notion's error JSON.
func writeError(w http.ResponseWriter, e *apiError, reqID string) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]any{
		"object": "error", "status": e.Status, "code": e.Code, "message": e.Message, "request_id": reqID,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"object":"error","status":500,"code":"internal_server_error","message":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newID makes a deterministic UUID-shaped ID from a sequence number, so
// runs are reproducible and golden files stable.
func newID(kind string, n int) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%s-%d", kind, n)
	b := h.Sum(nil)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	x := fmt.Sprintf("%x", b)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// freshID takes the next sequence number and makes an ID of kind from
// it, passing over numbers whose ID is taken (which only a restored,
// damaged snapshot can cause). Callers hold s.mu.
func (s *Server) freshID(kind string) string {
	for {
		s.seq++
		id := newID(kind, s.seq)
		k := normID(id)
		if s.dbs[k] == nil && s.pages[k] == nil && s.blocks[k] == nil {
			return id
		}
	}
}

// normID is the lookup key of an ID: Notion accepts IDs with or without
// dashes, in any case.
func normID(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

// utf16Len counts characters as Notion's limits do (JavaScript string
// length: UTF-16 code units).
func utf16Len(s string) int {
	n := 0
	for _, r := range s { // invalid UTF-8 reads as U+FFFD, one unit
		if r >= 0x10000 {
			n += 2 // a surrogate pair
		} else {
			n++
		}
	}
	return n
}

// stamp formats a timestamp as Notion does: milliseconds, Z.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// slug is the title part of a page URL: words joined by hyphens.
func slug(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range title {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 60 {
		s = strings.TrimRight(s[:60], "-")
	}
	return s
}
