package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/carebridge/carebridge/adapters/x"
	"github.com/carebridge/carebridge/adapters/x/xfake"
)

// xLogin runs x-login against fx and plays the browser with browse, which
// gets the authorize URL the command printed. It returns the exit status
// and the outputs.
func xLogin(t *testing.T, fx *xfake.Server, browse func(authorize *url.URL), extra ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	args := append([]string{"x-login", "-client-id", "cid", "-listen", "127.0.0.1:0", "-timeout", "20s",
		"-authorize-url", fx.URL() + "/i/oauth2/authorize", "-api-base-url", fx.URL()}, extra...)
	go func() { done <- run(context.Background(), args, &stdout, &stderr) }()
	re := regexp.MustCompile(`\n  (http://\S+)\n`)
	deadline := time.Now().Add(10 * time.Second)
	for !re.MatchString(stderr.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no authorize URL printed:\n%s", stderr.String())
		}
		time.Sleep(time.Millisecond)
	}
	u, err := url.Parse(re.FindStringSubmatch(stderr.String())[1])
	if err != nil {
		t.Fatal(err)
	}
	browse(u)
	return <-done, stdout.String(), stderr.String()
}

func TestXLogin(t *testing.T) {
	t.Setenv("X_CLIENT_SECRET", "csecret")
	fx := xfake.New(xfake.WithOAuth2Client("cid", "csecret", "9000000"))
	defer fx.Close()
	fx.AddUser(xfake.User{ID: "9000000", Username: "SBCare"})

	code, out, errs := xLogin(t, fx, func(u *url.URL) {
		q := u.Query()
		if q.Get("scope") != "tweet.read tweet.write users.read dm.read dm.write offline.access" || q.Get("code_challenge_method") != "S256" ||
			!strings.HasPrefix(q.Get("redirect_uri"), "http://127.0.0.1:") {
			t.Errorf("authorize URL: %s", u)
		}
		// A link with another state is turned away, and the command waits on.
		bad, _ := url.Parse(q.Get("redirect_uri"))
		bad.RawQuery = url.Values{"state": {"forged"}, "code": {"x"}}.Encode()
		if resp, err := http.Get(bad.String()); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forged state: %v %v", resp, err)
		}
		resp, err := http.Get(u.String()) // X approves and redirects to the callback
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "You can close this tab") {
			t.Errorf("callback page: %d %s", resp.StatusCode, body)
		}
	})
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	m := regexp.MustCompile(`(?s)- handle: SBCare\n  user_id: "9000000"\n  oauth2:\n    client_id: cid\n    client_secret: \$\{X_CLIENT_SECRET\}\n    access_token: (\S+)\n    refresh_token: (\S+)\n$`).FindStringSubmatch(out)
	if m == nil || strings.Contains(out, "csecret") {
		t.Fatalf("output:\n%s", out)
	}
	// The tokens work: carebridge's own OAuth 2.0 authorizer reads as
	// @SBCare with them and refreshes.
	o := x.NewOAuth2(fx.URL()+"/2/oauth2/token", "cid", "csecret", m[1], m[2])
	xc := x.NewClient(fx.URL(), x.Bearer(xfake.DefaultAppToken))
	if me, err := xc.Me(context.Background(), o); err != nil || me.ID != "9000000" {
		t.Errorf("users/me with the access token: %+v %v", me, err)
	}
	if err := o.Refresh(context.Background()); err != nil {
		t.Errorf("refresh with the refresh token: %v", err)
	}

	// The account owner declines.
	code, _, errs = xLogin(t, fx, func(u *url.URL) {
		cb, _ := url.Parse(u.Query().Get("redirect_uri"))
		cb.RawQuery = url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}.Encode()
		if resp, err := http.Get(cb.String()); err == nil {
			resp.Body.Close()
		}
	})
	if code != 1 || !strings.Contains(errs, "X did not authorize the app: access_denied") {
		t.Errorf("declined: exit %d\n%s", code, errs)
	}
}
