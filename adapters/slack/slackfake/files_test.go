package slackfake_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/carebridge/carebridge/adapters/slack/slackfake"
)

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return "ratelimited"
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Status
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

// slack-go's three-step upload lands the file, shared in the channel or
// the thread asked for, with its bytes.
func TestUploadFlow(t *testing.T) {
	f := newFake(t)
	api := apiFor(f)
	ts, err := f.UserPosts(chanCare, alice, "", "parent")
	if err != nil {
		t.Fatal(err)
	}
	content := "a,b\n1,2\n"
	sum, err := api.UploadFileContext(t.Context(), slack.UploadFileParameters{
		Content: content, FileSize: len(content), Filename: "week.csv", Title: "The week",
		Channel: chanCare, ThreadTimestamp: ts, InitialComment: "see", AltTxt: "numbers",
	})
	if err != nil {
		t.Fatal(err)
	}
	files := f.Files(chanCare)
	if len(files) != 1 || files[0].ID != sum.ID {
		t.Fatalf("files %+v, summary %+v", files, sum)
	}
	got := files[0]
	if string(got.Content) != content || got.Name != "week.csv" || got.Title != "The week" || got.ThreadTS != ts || got.InitialComment != "see" || got.AltText != "numbers" {
		t.Errorf("file %+v", got)
	}
	// Without a channel the file stays private.
	if _, err := api.UploadFileContext(t.Context(), slack.UploadFileParameters{Content: "x", FileSize: 1, Filename: "x.txt"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Files(chanCare)); n != 1 {
		t.Errorf("%d files in the channel after a private upload", n)
	}
	if all := f.Files(""); len(all) != 2 || all[1].Channel != "" {
		t.Errorf("all files %+v", all)
	}
}

// Each step refuses what Slack refuses.
func TestUploadErrors(t *testing.T) {
	f := newFake(t)
	f.AddChannel("C0OTHER", "other")
	f.SetBotMember("C0OTHER", false)
	api := apiFor(f)
	ctx := t.Context()

	if _, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "a.png", FileSize: 2, AltTxt: strings.Repeat("a", 1001)}); slackErr(err) != "alt_txt_too_large" {
		t.Errorf("long alt text: %v", err)
	}
	// length 0 (slack-go refuses it before sending; a raw call).
	resp, err := http.PostForm(f.APIURL()+"files.getUploadURLExternal", map[string][]string{"token": {f.Identity().BotToken}, "filename": {"a"}, "length": {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"missing_argument"`) {
		t.Errorf("length 0: %s", body)
	}

	u, err := api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{FileName: "a.png", FileSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	// Completing before the upload: the file is not there yet.
	complete := func(id, channel string) error {
		_, err := api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: id}}, Channel: channel})
		return err
	}
	if err := complete(u.FileID, chanCare); slackErr(err) != "file_not_found" {
		t.Errorf("complete before upload: %v", err)
	}
	// The wrong number of bytes is refused by the upload service.
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Content: "abc", Filename: "a.png"}); slackErr(err) != "400 Bad Request" {
		t.Errorf("short upload: %v", err)
	}
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Content: "abcd", Filename: "a.png"}); err != nil {
		t.Fatal(err)
	}
	if err := complete("F0NOSUCH", chanCare); slackErr(err) != "file_not_found" {
		t.Errorf("unknown file: %v", err)
	}
	if err := complete(u.FileID, "C0NOSUCH"); slackErr(err) != "channel_not_found" {
		t.Errorf("unknown channel: %v", err)
	}
	if err := complete(u.FileID, "C0OTHER"); slackErr(err) != "not_in_channel" {
		t.Errorf("channel without the bot: %v", err)
	}
	if err := complete(u.FileID, chanCare); err != nil {
		t.Fatal(err)
	}
	// A completed file cannot be completed or uploaded again.
	if err := complete(u.FileID, chanCare); slackErr(err) != "file_not_found" {
		t.Errorf("second completion: %v", err)
	}
	if err := api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Content: "abcd", Filename: "a.png"}); slackErr(err) != "404 Not Found" {
		t.Errorf("upload after completion: %v", err)
	}
	if n := len(f.Files(chanCare)); n != 1 {
		t.Errorf("%d files shared", n)
	}
}

// Both methods are Tier 4: 100 calls a minute each, on the fake's clock.
func TestUploadTier4(t *testing.T) {
	clk := &testClock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
	f := newFake(t, slackfake.WithClock(clk))
	api := apiFor(f)
	for i := range slackfake.FilesPerMinute {
		if _, err := api.GetUploadURLExternalContext(t.Context(), slack.GetUploadURLExternalParameters{FileName: "a", FileSize: 1}); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err := api.GetUploadURLExternalContext(t.Context(), slack.GetUploadURLExternalParameters{FileName: "a", FileSize: 1})
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("call 101: %v", err)
	}
	// The other method has its own budget.
	if _, err := api.CompleteUploadExternalContext(t.Context(), slack.CompleteUploadExternalParameters{Files: []slack.FileSummary{{ID: "F0NOSUCH"}}}); slackErr(err) != "file_not_found" {
		t.Errorf("complete under the other method's limit: %v", err)
	}
	clk.Advance(time.Minute)
	if _, err := api.GetUploadURLExternalContext(t.Context(), slack.GetUploadURLExternalParameters{FileName: "a", FileSize: 1}); err != nil {
		t.Errorf("a minute later: %v", err)
	}
}
