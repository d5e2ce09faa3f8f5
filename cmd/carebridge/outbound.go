package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	slackapi "github.com/slack-go/slack"
	"golang.org/x/net/http/httpproxy"

	"github.com/carebridge/carebridge/adapters/slack"
)

// Every HTTP request carebridge makes to a platform (Slack's Web API and
// Socket Mode, X's API, its filtered stream and OAuth 2.0 token endpoint,
// `check -online`, `x-login`) goes through a transport made here, so that
// all of them honour the same outbound proxy: HTTPS_PROXY for https URLs,
// HTTP_PROXY for http ones, NO_PROXY for exceptions (Go's rules: see
// golang.org/x/net/http/httpproxy; requests to localhost and loopback
// addresses never use a proxy).

// outboundProxy returns the proxy function of the environment as it is
// now. http.ProxyFromEnvironment would do the same but reads the
// environment once per process; reading it when a client is built lets
// tests (and a process that sets the variables late) change it.
func outboundProxy() func(*http.Request) (*url.URL, error) {
	proxy := httpproxy.FromEnvironment().ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return proxy(r.URL) }
}

// outboundTransport returns a transport like http.DefaultTransport with
// the environment's proxy, keeping up to idle connections per host alive
// (Go's default keeps 2, too few for concurrent outbox workers).
func outboundTransport(idle int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = outboundProxy()
	t.MaxIdleConnsPerHost = max(idle, 2)
	t.MaxIdleConns = max(idle, 100)
	return t
}

// outboundClient returns an HTTP client over outboundTransport. A zero
// timeout means none (the filtered stream stays open for hours).
func outboundClient(timeout time.Duration, idle int) *http.Client {
	return &http.Client{Transport: outboundTransport(idle), Timeout: timeout}
}

// socketDialer is the WebSocket dialer of Slack's Socket Mode, with the
// environment's proxy.
func socketDialer() *websocket.Dialer {
	proxy := outboundProxy()
	return &websocket.Dialer{Proxy: proxy, HandshakeTimeout: 45 * time.Second}
}

// unreachable reports whether err means the server was not reached (or
// not reached safely): a name that does not resolve, a connection refused
// or reset, a timeout, a proxy refusing the tunnel, a certificate that
// does not verify. Such an error says nothing about the credentials sent.
func unreachable(err error) bool {
	var (
		dns  *net.DNSError
		op   *net.OpError
		ne   net.Error
		cert *tls.CertificateVerificationError
		ue   *url.Error
	)
	switch {
	case err == nil, errors.Is(err, context.Canceled): // canceled: we gave up, not the network
		return false
	case errors.As(err, &dns), errors.As(err, &op), errors.As(err, &cert),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.As(err, &ue):
		// The transport failed before any answer: a proxy's refusal
		// ("proxyconnect", a CONNECT answered 403), an early EOF.
		return true
	}
	return false
}

// slackAuthRefused are the auth.test errors that mean the token itself is
// bad (Slack's auth.test documentation).
var slackAuthRefused = map[string]bool{
	"invalid_auth": true, "not_authed": true, "account_inactive": true, "token_revoked": true,
	"token_expired": true, "no_permission": true, "not_allowed_token_type": true,
	"missing_scope": true, "ekm_access_denied": true, "team_access_not_granted": true,
}

// slackAuthTest calls auth.test with the bot token and says plainly what a
// failure means: Slack could not be reached, or it refused the token.
func slackAuthTest(ctx context.Context, api *slackapi.Client, apiURL string) (*slackapi.AuthTestResponse, error) {
	auth, err := api.AuthTestContext(ctx)
	if err == nil {
		return auth, nil
	}
	return nil, describeSlackError("the bot token (slack.bot_token)", "auth.test", apiURL, err)
}

// describeSlackError turns a failed startup call into an error that says
// whether Slack was unreachable or refused the token.
func describeSlackError(token, method, apiURL string, err error) error {
	var sr slackapi.SlackErrorResponse
	switch {
	case unreachable(err):
		return fmt.Errorf("slack: cannot reach Slack at %s (%s): %w; check the network, DNS and HTTPS_PROXY", apiURL, method, transportError(err))
	case errors.As(err, &sr) && slackAuthRefused[sr.Err]:
		return fmt.Errorf("slack: %s was refused (%s): %s", token, method, sr.Err)
	}
	return fmt.Errorf("slack: %s failed: %w", method, slack.Classify(err))
}

// describeXError does the same for X: unreachable, or credentials refused
// (401, 403), or another failure.
func describeXError(what, endpoint, apiURL string, err error) error {
	if unreachable(err) {
		return fmt.Errorf("x: cannot reach X at %s (%s): %w; check the network, DNS and HTTPS_PROXY", apiURL, endpoint, transportError(err))
	}
	return fmt.Errorf("x: %s: %s: %w", what, endpoint, err)
}

// transportError returns the HTTP client's own error inside err (the
// method, the URL and the cause), without the wrappers' prefixes.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue
	}
	return err
}
