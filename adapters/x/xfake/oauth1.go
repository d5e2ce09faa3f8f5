package xfake

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// OAuth1Credentials are an OAuth 1.0a user-context credential set: the
// app's consumer key and secret and a user's access token and secret.
type OAuth1Credentials struct {
	ConsumerKey, ConsumerSecret, AccessToken, AccessSecret string
}

// WithOAuth1 registers OAuth 1.0a credentials that authenticate as userID.
// The fake verifies each request's HMAC-SHA1 signature as X does (RFC
// 5849): over the method, the URL the request reached (scheme, Host
// header, path), the oauth_* parameters, the query parameters and the
// parameters of an application/x-www-form-urlencoded body — a JSON body,
// as X API v2 posts send, is not part of it. A wrong signature, an unknown
// consumer key or token, a method other than HMAC-SHA1 or a nonce used
// before with the same timestamp is a 401. Timestamps are not compared
// with the clock.
func WithOAuth1(c OAuth1Credentials, userID string) Option {
	return func(cfg *config) { cfg.oauth1[c.AccessToken] = oauth1User{cred: c, userID: userID} }
}

type oauth1User struct {
	cred   OAuth1Credentials
	userID string
}

// authenticateOAuth1 checks an "OAuth ..." Authorization header (rest is
// what follows the scheme) and returns the user it authenticates.
func (s *Server) authenticateOAuth1(r *http.Request, rest string, body []byte) (string, bool) {
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		v, err := url.PathUnescape(strings.Trim(v, `"`))
		if err != nil {
			return "", false
		}
		params[k] = v
	}
	s.tokMu.RLock()
	u, ok := s.cfg.oauth1[params["oauth_token"]]
	s.tokMu.RUnlock()
	if !ok || params["oauth_consumer_key"] != u.cred.ConsumerKey || params["oauth_signature_method"] != "HMAC-SHA1" ||
		params["oauth_nonce"] == "" || params["oauth_timestamp"] == "" || params["oauth_signature"] == "" {
		return "", false
	}
	if v, ok := params["oauth_version"]; ok && v != "1.0" {
		return "", false
	}
	var form url.Values
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		form, _ = url.ParseQuery(string(body))
	}
	oauth := map[string]string{}
	for k, v := range params {
		if strings.HasPrefix(k, "oauth_") && k != "oauth_signature" {
			oauth[k] = v
		}
	}
	want := oauth1Signature(r.Method, requestURL(r), form, oauth, u.cred.ConsumerSecret, u.cred.AccessSecret)
	if subtle.ConstantTimeCompare([]byte(want), []byte(params["oauth_signature"])) != 1 {
		return "", false
	}
	key := params["oauth_token"] + " " + params["oauth_timestamp"] + " " + params["oauth_nonce"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nonces[key] {
		return "", false // a replayed request
	}
	s.nonces[key] = true
	return u.userID, true
}

// requestURL is the URL a request reached, as its sender saw it.
func requestURL(r *http.Request) *url.URL {
	u := *r.URL
	u.Scheme = "http"
	if r.TLS != nil {
		u.Scheme = "https"
	}
	u.Host = r.Host
	return &u
}

// oauth1Signature is the RFC 5849 HMAC-SHA1 signature of a request.
func oauth1Signature(method string, u *url.URL, form url.Values, oauth map[string]string, consumerSecret, tokenSecret string) string {
	var pairs []string
	for k, v := range oauth {
		pairs = append(pairs, enc(k)+"="+enc(v))
	}
	for _, vals := range []url.Values{u.Query(), form} {
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, enc(k)+"="+enc(v))
			}
		}
	}
	sort.Strings(pairs)
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "http" && strings.HasSuffix(host, ":80")) || (scheme == "https" && strings.HasSuffix(host, ":443")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	base := strings.ToUpper(method) + "&" + enc(scheme+"://"+host+u.EscapedPath()) + "&" + enc(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(enc(consumerSecret)+"&"+enc(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// enc is RFC 3986 percent-encoding as OAuth 1.0a requires (unreserved
// characters kept, everything else %XX with upper-case hex).
func enc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
