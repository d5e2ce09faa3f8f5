package bsky

import (
	"encoding/json"
	"strings"
	"time"
)

// The few lexicon types carebridge reads and writes (app.bsky.feed.post,
// com.atproto.repo.strongRef, app.bsky.feed.defs#postView, …), with the
// JSON names of the lexicons.

// StrongRef is a com.atproto.repo.strongRef: a record's AT-URI and the CID
// of the version meant.
type StrongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// ReplyRef is a post's reply links: the thread's first post and the post
// answered.
type ReplyRef struct {
	Root   StrongRef `json:"root"`
	Parent StrongRef `json:"parent"`
}

// PostRecord is an app.bsky.feed.post record.
type PostRecord struct {
	Type      string          `json:"$type"`
	Text      string          `json:"text"`
	CreatedAt string          `json:"createdAt"`
	Langs     []string        `json:"langs,omitempty"`
	Reply     *ReplyRef       `json:"reply,omitempty"`
	Facets    []Facet         `json:"facets,omitempty"`
	Embed     json.RawMessage `json:"embed,omitempty"`
}

// PostCollection is the collection of posts.
const PostCollection = "app.bsky.feed.post"

// quoted returns the AT-URI of the record a post quotes, if any
// (app.bsky.embed.record, or recordWithMedia).
func (r *PostRecord) quoted() string {
	if len(r.Embed) == 0 {
		return ""
	}
	var e struct {
		Record struct {
			URI    string `json:"uri"`
			Record struct {
				URI string `json:"uri"`
			} `json:"record"`
		} `json:"record"`
	}
	if json.Unmarshal(r.Embed, &e) != nil {
		return ""
	}
	if e.Record.URI != "" {
		return e.Record.URI
	}
	return e.Record.Record.URI
}

// Author is an app.bsky.actor.defs#profileViewBasic.
type Author struct {
	DID         string `json:"did"`
	Handle      string `json:"handle"`
	DisplayName string `json:"displayName,omitempty"`
}

// PostView is an app.bsky.feed.defs#postView.
type PostView struct {
	URI       string          `json:"uri"`
	CID       string          `json:"cid"`
	Author    Author          `json:"author"`
	Record    json.RawMessage `json:"record"`
	IndexedAt string          `json:"indexedAt"`
	Viewer    *struct {
		ReplyDisabled bool `json:"replyDisabled,omitempty"`
	} `json:"viewer,omitempty"`
}

// Notification is an app.bsky.notification.listNotifications item.
type Notification struct {
	URI           string          `json:"uri"`
	CID           string          `json:"cid"`
	Author        Author          `json:"author"`
	Reason        string          `json:"reason"`
	ReasonSubject string          `json:"reasonSubject,omitempty"`
	Record        json.RawMessage `json:"record"`
	IsRead        bool            `json:"isRead"`
	IndexedAt     string          `json:"indexedAt"`
}

// ParseURI splits an AT-URI at://did/collection/rkey.
func ParseURI(uri string) (did, collection, rkey string, ok bool) {
	rest, found := strings.CutPrefix(uri, "at://")
	if !found {
		return "", "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// PostURI is the AT-URI of a post.
func PostURI(did, rkey string) string { return "at://" + did + "/" + PostCollection + "/" + rkey }

// WebURL is a post's link in the Bluesky app (the handle, else the DID,
// names the profile).
func WebURL(uri, handle string) string {
	did, _, rkey, ok := ParseURI(uri)
	if !ok {
		return ""
	}
	if handle == "" {
		handle = did
	}
	return "https://bsky.app/profile/" + handle + "/post/" + rkey
}

// Datetime formats t as the lexicons' datetime.
func Datetime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
