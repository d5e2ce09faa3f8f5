package meta

import (
	"testing"
	"unicode/utf8"
)

// FuzzMetaDelivery feeds the delivery parser arbitrary bodies: it never panics,
// and what it accepts has posts with an id, a platform and a conversation.
func FuzzMetaDelivery(f *testing.F) {
	pages := []Page{{Name: "acme", ID: "111", InstagramID: "999"}}
	for _, s := range []string{
		`{"object":"page","entry":[{"id":"111","time":1764756000,"changes":[{"field":"feed","value":{"from":{"id":"u1","name":"Kim"},"item":"comment","verb":"add","comment_id":"5_6","post_id":"111_5","parent_id":"111_5","created_time":1764756000,"message":"hi"}}]}]}`,
		`{"object":"page","entry":[{"id":"111","time":1764756000,"messaging":[{"sender":{"id":"p1"},"recipient":{"id":"111"},"timestamp":1764756000123,"message":{"mid":"m_1","text":"hello"}}]}]}`,
		`{"object":"instagram","entry":[{"id":"999","time":"2026-12-03T10:00:00+0000","changes":[{"field":"comments","value":{"from":{"id":"i1","username":"lee"},"media":{"id":"m"},"id":"17","text":"wifi"}}]}]}`,
		`{"object":"page","entry":[{"id":"111","changes":[{"field":"feed","value":{"item":"comment","verb":"remove","comment_id":"5_6","post_id":"111_5","from":{"id":"u1"}}}]}]}`,
		`{"object":"user"}`, `[]`, `{"object":"page","entry":[{"id":"111","messaging":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := Parse(body, pages)
		if err != nil {
			return
		}
		for _, post := range append(p.Posts, p.Removals...) {
			if post.ExternalID == "" || post.ConversationKey == "" || (post.Platform != Facebook && post.Platform != Instagram) || post.AuthorID == "" {
				t.Fatalf("accepted a post without id, conversation, platform or author: %+v", post)
			}
			if utf8.ValidString(string(body)) && !utf8.ValidString(post.Text) {
				t.Fatalf("invalid UTF-8 text from a valid body: %q", post.Text)
			}
		}
	})
}
