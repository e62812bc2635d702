package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// File is an uploaded file: what files.getUploadURLExternal announced,
// the bytes POSTed to the upload URL, and the title it was shared with.
type File struct {
	ID      string
	Name    string
	Title   string
	AltText string `json:",omitempty"`
	Length  int64  // announced by files.getUploadURLExternal
	Data    []byte `json:",omitempty"`
	User    string
	Created time.Time
	// Uploaded is set once the bytes arrived at the upload URL.
	Uploaded bool `json:"-"`
}

// DefaultMaxFileSize is the largest file Slack takes: 1 GB.
const DefaultMaxFileSize = 1 << 30

// maxAltText is alt_txt's documented limit (alt_txt_too_large).
const maxAltText = 1000

// uploadPath is where upload URLs point: a path on the fake itself, so
// slack-go (which sends the token only to Slack's hosts or the API URL's
// host) sends it there.
const uploadPath = "/upload/v1/"

// SetMaxFileSize lowers the largest file the workspace takes, to test
// the refusal of a file too large (file_upload_size_restricted, as when
// a workspace restricts large uploads).
func (s *Server) SetMaxFileSize(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxFile = n
}

// files.getUploadURLExternal: announce a file (filename, length in bytes,
// optional alt_txt) and get where to send its bytes and its ID.
func (s *Server) filesGetUploadURL(p params) (result, error) {
	name := p.Get("filename")
	n, err := strconv.ParseInt(p.Get("length"), 10, 64)
	switch {
	case name == "" || p.Get("length") == "":
		return nil, fail("invalid_arguments", "[ERROR] missing required field: "+map[bool]string{true: "filename", false: "length"}[name == ""])
	case err != nil || n < 0:
		return nil, fail("invalid_arguments", "[ERROR] length must be an integer")
	case n == 0:
		return nil, fail("missing_argument")
	case n > s.maxFile:
		return nil, fail("file_upload_size_restricted")
	case utf8.RuneCountInString(p.Get("alt_txt")) > maxAltText:
		return nil, fail("alt_txt_too_large")
	}
	f := &File{ID: s.newID("F"), Name: name, AltText: p.Get("alt_txt"), Length: n, User: s.opts.BotUserID, Created: s.now()}
	s.uploads[f.ID] = f
	return result{"upload_url": s.opts.BaseURL + uploadPath + f.ID, "file_id": f.ID}, nil
}

// serveUpload takes a file's bytes at its upload URL: raw, or as the
// "file" part of a multipart form, as Slack accepts both. It answers 200
// "OK - <length>" as Slack does; a body longer than announced is refused.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	f := s.uploads[id]
	s.mu.Unlock()
	if f == nil {
		http.Error(w, "upload not found", http.StatusNotFound)
		return
	}
	body := io.Reader(io.LimitReader(r.Body, f.Length+1))
	ctype, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ctype == "multipart/form-data" {
		mr := multipart.NewReader(r.Body, params["boundary"])
		part, err := mr.NextPart()
		for err == nil && part.FormName() != "file" && part.FormName() != "filename" {
			part, err = mr.NextPart()
		}
		if err != nil {
			http.Error(w, "no file part in the form", http.StatusBadRequest)
			return
		}
		body = io.LimitReader(part, f.Length+1)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "read upload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if int64(len(data)) > f.Length {
		http.Error(w, fmt.Sprintf("file is larger than the %d bytes announced", f.Length), http.StatusRequestEntityTooLarge)
		return
	}
	s.mu.Lock()
	if g := s.uploads[id]; g != nil {
		g.Data, g.Uploaded = data, true
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "OK - %d", len(data))
}

// files.completeUploadExternal: finish uploads (files: a JSON array of
// {"id","title"}) and share them to channel_id (under thread_ts when
// set) in one message with initial_comment as its text. Without a
// channel the files stay private to the bot.
func (s *Server) filesCompleteUpload(p params) (result, error) {
	var want []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p.Get("files")), &want); err != nil || len(want) == 0 {
		return nil, fail("invalid_arguments", "[ERROR] files must be a non-empty JSON array of {id, title}")
	}
	var files []*File
	for _, x := range want {
		f := s.uploads[x.ID]
		if f == nil || !f.Uploaded {
			return nil, fail("file_not_found")
		}
		files = append(files, f)
	}
	var c *Channel
	if ref := p.Get("channel_id"); ref != "" {
		c = s.lookupChannel(ref)
		if u, ok := s.users[ref]; ok && !u.IsBot {
			c = s.imWith(u.ID)
		}
		switch {
		case c == nil || (c.IsPrivate && !c.isMember(s.opts.BotUserID)):
			return nil, fail("invalid_channel")
		case c.Archived:
			return nil, fail("is_archived")
		case !c.isMember(s.opts.BotUserID):
			return nil, fail("not_in_channel")
		}
	}
	text := p.Get("initial_comment")
	if utf8.RuneCountInString(text) > maxMessageText {
		return nil, fail("msg_too_long")
	}
	var parent *Message
	if tts := p.Get("thread_ts"); tts != "" {
		if c == nil {
			return nil, fail("invalid_arguments", "[ERROR] thread_ts needs channel_id")
		}
		if parent = s.threadRoot(c.ID, tts); parent == nil {
			return nil, fail("thread_not_found")
		}
	}
	out := make([]map[string]any, len(files))
	shared := make([]File, len(files))
	for i, f := range files {
		f.Title = want[i].Title
		if f.Title == "" {
			f.Title = strings.TrimSuffix(f.Name, path.Ext(f.Name))
		}
		delete(s.uploads, f.ID)
		shared[i] = *f
		out[i] = map[string]any{"id": f.ID, "title": f.Title}
	}
	if c != nil {
		m := &Message{Channel: c.ID, User: s.opts.BotUserID, BotID: s.opts.BotID, Text: text, Files: shared}
		if parent != nil {
			parent.ThreadTS = parent.TS
			parent.Replies++
			m.ThreadTS = parent.TS
		}
		m.TS = s.newTS()
		s.messages[c.ID] = append(s.messages[c.ID], m)
	}
	return result{"files": out}, nil
}

// fileJSON is a file as messages in history carry it.
func (s *Server) fileJSON(f File) map[string]any {
	ext := strings.TrimPrefix(path.Ext(f.Name), ".")
	return map[string]any{
		"id": f.ID, "name": f.Name, "title": f.Title, "user": f.User,
		"created": f.Created.Unix(), "timestamp": f.Created.Unix(),
		"filetype": ext, "mimetype": mime.TypeByExtension("." + ext), "size": len(f.Data),
		"alt_txt":     f.AltText,
		"url_private": s.opts.BaseURL + "/files/" + f.ID + "/" + f.Name,
	}
}

// FileData returns the bytes of a shared file, for tests and the sandbox
// page.
func (s *Server) FileData(id string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ms := range s.messages {
		for _, m := range ms {
			for _, f := range m.Files {
				if f.ID == id {
					return f, true
				}
			}
		}
	}
	return File{}, false
}
