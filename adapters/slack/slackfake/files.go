package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// File uploads (files.getUploadURLExternal, the POST to the returned URL,
// files.completeUploadExternal), as slack-go's UploadFileContext drives
// them.
const (
	// FilesPerMinute is Tier 4, the rate tier of both
	// files.getUploadURLExternal and files.completeUploadExternal (each
	// method separately, per minute, on the injected clock).
	FilesPerMinute = 100
	// MaxUploadBytes bounds what the fake's upload URL accepts (Slack's
	// own bound is 1 GB; a test never needs more).
	MaxUploadBytes = 8 << 20
	// UploadMethod names the POST to an upload URL for FailNext (with an
	// HTTP status: the upload service answers no JSON).
	UploadMethod = "files.upload_url"
	// maxAltText is Slack's limit on alt_txt (alt_txt_too_large).
	maxAltText = 1000
)

// File is a file the bot uploaded and shared with files.completeUploadExternal.
type File struct {
	ID             string // "F…"
	Name           string // filename given to files.getUploadURLExternal
	Title          string // title given to files.completeUploadExternal
	AltText        string // alt_txt
	Channel        string // channel id it was shared in ("" if kept private)
	ThreadTS       string // the thread it was shared in, if any
	InitialComment string
	Content        []byte // the bytes uploaded
}

// upload is a file between files.getUploadURLExternal and its completion.
type upload struct {
	file     File
	length   int
	uploaded bool
	done     bool
}

type fileState struct {
	seq     int
	uploads map[string]*upload // by file id
	byPath  map[string]*upload // by upload URL path
	shared  []File
	calls   map[string][]time.Time // per method, in the last minute
}

func init() {
	methodTable["files.getUploadURLExternal"] = methodSpec{handle: (*Server).filesGetUploadURLExternal}
	methodTable["files.completeUploadExternal"] = methodSpec{handle: (*Server).filesCompleteUploadExternal}
}

func (s *Server) filesLocked() *fileState {
	if s.files == nil {
		s.files = &fileState{uploads: map[string]*upload{}, byPath: map[string]*upload{}, calls: map[string][]time.Time{}}
	}
	return s.files
}

// Files returns the files shared in channel (every shared file when
// channel is ""), in the order they were shared.
func (s *Server) Files(channel string) []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []File
	for _, f := range s.filesLocked().shared {
		if channel == "" || f.Channel == channel {
			f.Content = bytes.Clone(f.Content)
			out = append(out, f)
		}
	}
	return out
}

// tierLimitLocked enforces Tier 4 on a files method.
func (s *Server) tierLimitLocked(fs *fileState, method string) (result, bool) {
	now := s.cfg.clock.Now()
	var recent []time.Time
	for _, t := range fs.calls[method] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= FilesPerMinute {
		res := errResult("ratelimited")
		res.status = http.StatusTooManyRequests
		res.retryAfter = retryAfterSeconds(time.Minute - now.Sub(recent[0]))
		fs.calls[method] = recent
		return res, false
	}
	fs.calls[method] = append(recent, now)
	return result{}, true
}

// filesGetUploadURLExternal reserves a file id and an upload URL for
// length bytes named filename.
func (s *Server) filesGetUploadURLExternal(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.filesLocked()
	if res, ok := s.tierLimitLocked(fs, "files.getUploadURLExternal"); !ok {
		return res
	}
	if p["filename"] == "" || !p.has("length") {
		return errResult("invalid_arguments")
	}
	n, err := strconv.Atoi(p["length"])
	switch {
	case err != nil || n < 0:
		return errResult("invalid_arguments")
	case n == 0:
		return errResult("missing_argument") // Slack's answer to length 0
	case n > MaxUploadBytes:
		return errResult("file_upload_size_restricted")
	case utf8.RuneCountInString(p["alt_txt"]) > maxAltText:
		return errResult("alt_txt_too_large")
	}
	fs.seq++
	id := fmt.Sprintf("F0FAKE%05d", fs.seq)
	path := fmt.Sprintf("/upload/v1/%s-%d", strings.ToLower(id), s.cfg.clock.Now().UnixNano())
	u := &upload{file: File{ID: id, Name: p["filename"], AltText: p["alt_txt"]}, length: n}
	fs.uploads[id], fs.byPath[path] = u, u
	return okResult(map[string]any{"upload_url": s.srv.URL + path, "file_id": id})
}

// handleUpload receives the bytes of a reserved file: multipart form data
// (the file in any file part, as slack-go sends it) or the raw body. It
// answers 200 "OK - <bytes>"; an unknown or already completed URL 404; a
// byte count other than the reserved length 400.
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	s.mu.Lock()
	u := s.filesLocked().byPath[r.URL.Path]
	outage := s.outage
	f, faulted := s.takeFaultLocked(UploadMethod)
	s.mu.Unlock()
	switch {
	case outage:
		http.Error(w, "503 Service Unavailable", http.StatusServiceUnavailable)
		return
	case faulted && f.status != 0 && f.status != http.StatusOK:
		http.Error(w, http.StatusText(f.status), f.status)
		return
	}
	if u == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	data, err := readUpload(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case u.done:
		http.Error(w, "not found", http.StatusNotFound)
	case len(data) != u.length:
		http.Error(w, fmt.Sprintf("length mismatch: %d bytes reserved, %d sent", u.length, len(data)), http.StatusBadRequest)
	default:
		u.file.Content, u.uploaded = data, true
		fmt.Fprintf(w, "OK - %d", len(data))
	}
}

func readUpload(r *http.Request) ([]byte, error) {
	body := io.LimitReader(r.Body, MaxUploadBytes+1)
	mt, ps, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return io.ReadAll(body)
	}
	mr := multipart.NewReader(body, ps["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return nil, fmt.Errorf("no file in the multipart body: %w", err)
		}
		if part.FileName() != "" {
			return io.ReadAll(part)
		}
	}
}

// filesCompleteUploadExternal shares uploaded files in channel_id (or the
// first of channels), in the thread thread_ts if given, or keeps them
// private without a channel.
func (s *Server) filesCompleteUploadExternal(p params) result {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.filesLocked()
	if res, ok := s.tierLimitLocked(fs, "files.completeUploadExternal"); !ok {
		return res
	}
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(p["files"]), &list); err != nil || len(list) == 0 {
		return errResult("invalid_arguments")
	}
	channel := p["channel_id"]
	if channel == "" && p["channels"] != "" {
		channel, _, _ = strings.Cut(p["channels"], ",")
	}
	if channel != "" {
		ch := s.channelLocked(channel, false)
		switch {
		case ch == nil:
			return errResult("channel_not_found")
		case !ch.botMember:
			return errResult("not_in_channel")
		}
	} else if p["thread_ts"] != "" {
		return errResult("invalid_arguments")
	}
	ups := make([]*upload, len(list))
	for i, f := range list {
		u := fs.uploads[f.ID]
		if u == nil || !u.uploaded || u.done {
			return errResult("file_not_found")
		}
		ups[i] = u
	}
	var out []map[string]any
	for i, u := range ups {
		u.done = true
		f := u.file
		f.Title = list[i].Title
		if f.Title == "" {
			f.Title = f.Name
		}
		f.Channel, f.ThreadTS, f.InitialComment = channel, p["thread_ts"], p["initial_comment"]
		fs.shared = append(fs.shared, f)
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return okResult(map[string]any{"files": out})
}
