package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/carebridge/carebridge/bridge"
)

// MaxDeliveryBytes caps a webhook body. Meta batches up to 1,000 updates
// in one POST; a comment's value is well under 1 KB, so 4 MiB leaves room
// for long messages and refuses anything that would only cost memory.
const MaxDeliveryBytes = 4 << 20

// Receiver serves Meta's webhook (/meta/webhook): the verification GET
// and the signed deliveries. A delivery is ingested through the Sink —
// stored in one transaction — before the 200: a crash before the answer
// makes Meta deliver it again (ingest dedupes on the comment or message
// id), a crash after it loses nothing. If the store fails the answer is
// 500 and Meta redelivers.
type Receiver struct {
	pages []Page
	sink  bridge.Sink
	log   *slog.Logger
	// Delivered, if set, is told what each accepted delivery did (tests,
	// metrics).
	Delivered func(p Parsed, res bridge.IngestResult)
}

// NewReceiver returns the webhook handler for pages, ingesting into sink.
func NewReceiver(pages []Page, sink bridge.Sink, log *slog.Logger) *Receiver {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{pages: pages, sink: sink, log: log}
}

func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet:
		r.verify(w, req)
	case http.MethodPost:
		r.deliver(w, req)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify answers the subscription check: hub.mode=subscribe and one of
// our verify tokens (compared in constant time) get hub.challenge back
// as the raw body; anything else 403.
func (r *Receiver) verify(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	token := q.Get("hub.verify_token")
	ok := false
	for _, p := range r.pages {
		if p.VerifyToken != "" && subtle.ConstantTimeCompare([]byte(token), []byte(p.VerifyToken)) == 1 {
			ok = true
		}
	}
	if q.Get("hub.mode") != "subscribe" || !ok {
		r.log.Warn("meta webhook verification refused", "mode", q.Get("hub.mode"))
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, q.Get("hub.challenge"))
}

// SignatureValid reports whether header (X-Hub-Signature-256:
// "sha256=<hex>") is the HMAC-SHA256 of body with one of secrets. The
// comparison is in constant time.
func SignatureValid(body []byte, header string, secrets []string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	valid := false
	for _, s := range secrets {
		if s == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(s))
		m.Write(body)
		if hmac.Equal(got, m.Sum(nil)) {
			valid = true
		}
	}
	return valid
}

// Sign returns the X-Hub-Signature-256 value of body under secret (the
// fake signs its deliveries with it).
func Sign(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (r *Receiver) secrets() []string {
	var out []string
	for _, p := range r.pages {
		out = append(out, p.AppSecret)
	}
	return out
}

func (r *Receiver) deliver(w http.ResponseWriter, req *http.Request) {
	if req.ContentLength > MaxDeliveryBytes {
		http.Error(w, "delivery too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxDeliveryBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "delivery too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the delivery", http.StatusBadRequest)
		return
	}
	sig := req.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		r.log.Warn("meta delivery without X-Hub-Signature-256 refused")
		http.Error(w, "missing X-Hub-Signature-256", http.StatusUnauthorized)
		return
	}
	if !SignatureValid(body, sig, r.secrets()) {
		r.log.Warn("meta delivery with a bad signature refused")
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	parsed, err := Parse(body, r.pages)
	if err != nil {
		r.log.Warn("meta delivery refused", "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, err := r.ingest(req.Context(), parsed)
	if err != nil {
		// Not acknowledged: Meta delivers it again.
		r.log.Error("meta delivery not stored; Meta will redeliver it", "err", err)
		http.Error(w, "not stored, try again", http.StatusInternalServerError)
		return
	}
	if r.Delivered != nil {
		r.Delivered(parsed, res)
	}
	r.log.Debug("meta delivery stored", "new", res.New, "duplicate", res.Duplicate, "tickets", res.Tickets, "skipped", parsed.Skipped)
	io.WriteString(w, "EVENT_RECEIVED")
}

// ingest stores a delivery's posts in one transaction. A removal is kept
// only when its comment is stored: a removed comment carebridge never
// saw has nothing to show.
func (r *Receiver) ingest(ctx context.Context, p Parsed) (bridge.IngestResult, error) {
	posts := p.Posts
	if len(p.Removals) > 0 {
		byPlatform := map[bridge.Platform][]string{}
		for _, rm := range p.Removals {
			byPlatform[rm.Platform] = append(byPlatform[rm.Platform], CommentID(rm.ExternalID))
		}
		known := map[string]bool{}
		for platform, ids := range byPlatform {
			seen, err := r.sink.Seen(ctx, platform, ids)
			if err != nil {
				return bridge.IngestResult{}, err
			}
			for id, ok := range seen {
				if ok {
					known[string(platform)+"/"+id] = true
				}
			}
		}
		for _, rm := range p.Removals {
			if known[string(rm.Platform)+"/"+CommentID(rm.ExternalID)] {
				posts = append(posts, rm)
			}
		}
	}
	if len(posts) == 0 {
		return bridge.IngestResult{}, nil
	}
	return r.sink.Ingest(ctx, bridge.Batch{Posts: posts})
}
