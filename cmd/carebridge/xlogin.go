package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/x"
)

// xLoginScopes are the OAuth 2.0 scopes an official account needs: reading
// and posting (tweet.read tweet.write users.read), DMs (dm.read dm.write)
// and a refresh token (offline.access). Reference §1.1.
const xLoginScopes = "tweet.read tweet.write users.read dm.read dm.write offline.access"

// xLoginArgs is x-login's usage line.
const xLoginArgs = "-client-id ID [-listen 127.0.0.1:8976] [-out FILE]"

// runXLogin obtains an OAuth 2.0 user token and refresh token for an
// official account with the authorization code flow and PKCE: it prints
// X's authorize URL, waits on 127.0.0.1 for X to redirect the browser back
// with a code, trades the code at the token endpoint, asks X whose token it
// is (GET /2/users/me) and prints the account's x.accounts entry, or
// writes it to -out.
func runXLogin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("x-login", xLoginArgs,
		"Authorizes carebridge to answer as an X account (OAuth 2.0 with PKCE) and prints the\n"+
			"account's x.accounts entry with its access and refresh tokens. Register\n"+
			"http://<listen>/callback as a callback URL of your X app first; open the printed URL in a\n"+
			"browser signed in as the official account. A confidential client's secret is read from\n"+
			"the X_CLIENT_SECRET environment variable (never from a flag, which ps would show).", stderr)
	clientID := fs.String("client-id", "", "the X app's OAuth 2.0 client `ID` (developer portal: Keys and tokens)")
	listen := fs.String("listen", "127.0.0.1:8976", "`address` of the local callback server; the redirect URI is http://address/callback")
	authorizeURL := fs.String("authorize-url", "https://x.com/i/oauth2/authorize", "X's authorization page")
	apiBase := fs.String("api-base-url", "https://api.x.com", "X API base URL (token endpoint: /2/oauth2/token)")
	scopes := fs.String("scopes", xLoginScopes, "space-separated OAuth 2.0 scopes")
	out := fs.String("out", "", "write the tokens to `file` (mode 0600) instead of standard output")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long to wait for the browser")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *clientID == "" {
		fmt.Fprintln(stderr, "x-login: -client-id is required")
		fs.Usage()
		return errUsage
	}
	secret := os.Getenv("X_CLIENT_SECRET")

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen for the callback: %w", err)
	}
	defer ln.Close()
	redirectURI := "http://" + ln.Addr().String() + "/callback"
	verifier, challenge := pkcePair()
	state := randomString(16)
	au, err := url.Parse(*authorizeURL)
	if err != nil {
		return fmt.Errorf("-authorize-url: %w", err)
	}
	au.RawQuery = url.Values{
		"response_type": {"code"}, "client_id": {*clientID}, "redirect_uri": {redirectURI},
		"scope": {*scopes}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode()
	fmt.Fprintf(stderr, "Open this URL in a browser signed in as the official account, and authorize the app:\n\n  %s\n\n"+
		"Waiting for X to send the browser back to %s …\n", au, redirectURI)

	type result struct {
		code string
		err  error
	}
	got := make(chan result, 1) // the first answer; later ones are turned away
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var res result
		switch {
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			// Not the answer to our request (an old tab, a forged link).
			http.Error(w, "carebridge x-login: this is not the answer to the current request (state differs); start again.", http.StatusBadRequest)
			return
		case q.Get("error") != "":
			res.err = fmt.Errorf("X did not authorize the app: %s %s", q.Get("error"), q.Get("error_description"))
		case q.Get("code") == "":
			res.err = errors.New("X sent the browser back without a code")
		default:
			res.code = q.Get("code")
		}
		select {
		case got <- res:
		default:
			http.Error(w, "carebridge x-login: already answered; see the terminal.", http.StatusConflict)
			return
		}
		if res.err != nil {
			http.Error(w, "carebridge x-login: "+res.err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "<!doctype html><title>carebridge</title><p>carebridge received the authorization. You can close this tab; the terminal shows the result.")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	var res result
	wait := time.NewTimer(*timeout)
	defer wait.Stop()
	select {
	case res = <-got:
	case <-ctx.Done():
		return ctx.Err()
	case <-wait.C:
		return fmt.Errorf("no answer from the browser within %s", *timeout)
	}
	if res.err != nil {
		return res.err
	}

	hc := outboundClient(30*time.Second, 2)
	base := strings.TrimSuffix(strings.TrimSuffix(*apiBase, "/"), "/2")
	tok, err := exchangeCode(ctx, hc, base+"/2/oauth2/token", *clientID, secret, res.code, redirectURI, verifier)
	if err != nil {
		return err
	}
	xc := x.NewClient(base, x.Bearer(tok.AccessToken), x.WithHTTPClient(hc), x.WithLogger(slog.New(slog.DiscardHandler)))
	me, err := xc.Me(ctx, x.Bearer(tok.AccessToken))
	if err != nil {
		return describeXError("the new access token", "GET /2/users/me", base, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# @%s (user id %s), authorized %s; scopes: %s\n", me.Username, me.ID, time.Now().UTC().Format(time.RFC3339), tok.Scope)
	fmt.Fprintf(&b, "# The access token lasts %s; carebridge refreshes it with the refresh token (single-use:\n", time.Duration(tok.ExpiresIn)*time.Second)
	fmt.Fprintf(&b, "# serve saves each new one in its store). Keep both secret: use ${…} or *_file in the configuration.\n")
	fmt.Fprintf(&b, "- handle: %s\n  user_id: %q\n  oauth2:\n    client_id: %s\n", me.Username, me.ID, *clientID)
	if secret != "" {
		fmt.Fprintf(&b, "    client_secret: ${X_CLIENT_SECRET}\n")
	}
	fmt.Fprintf(&b, "    access_token: %s\n", tok.AccessToken)
	if tok.RefreshToken != "" {
		fmt.Fprintf(&b, "    refresh_token: %s\n", tok.RefreshToken)
	} else {
		fmt.Fprintf(&b, "    # no refresh token: the offline.access scope was not granted\n")
	}
	if *out != "" {
		if err := os.WriteFile(*out, []byte(b.String()), 0o600); err != nil {
			return fmt.Errorf("write tokens: %w", err)
		}
		fmt.Fprintf(stdout, "Authorized @%s (user id %s); its x.accounts entry with the tokens is in %s\n", me.Username, me.ID, *out)
		return nil
	}
	fmt.Fprint(stdout, b.String())
	return nil
}

// xTokens is the token endpoint's answer.
type xTokens struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// exchangeCode trades an authorization code for tokens (RFC 6749 §4.1.3
// with the PKCE verifier). A confidential client authenticates with HTTP
// Basic; a public one sends its id in the body.
func exchangeCode(ctx context.Context, hc *http.Client, tokenURL, clientID, secret, code, redirectURI, verifier string) (xTokens, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"code_verifier": {verifier}, "client_id": {clientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return xTokens{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return xTokens{}, describeXError("token exchange", "POST /2/oauth2/token", tokenURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var refused struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(body, &refused)
		return xTokens{}, fmt.Errorf("x: the token endpoint refused the code: HTTP %d %s %s", resp.StatusCode, refused.Error, refused.Description)
	}
	var tok xTokens
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return xTokens{}, fmt.Errorf("x: unexpected answer from the token endpoint (%d bytes, no access token)", len(body))
	}
	return tok, nil
}

// pkcePair returns a PKCE code verifier and its S256 challenge (RFC 7636).
func pkcePair() (verifier, challenge string) {
	verifier = randomString(32) // 43 characters
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
