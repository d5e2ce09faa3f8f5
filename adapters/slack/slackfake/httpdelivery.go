package slackfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// slackUserAgent is the User-Agent Slack's event deliveries carry.
const slackUserAgent = "Slackbot 1.0 (+https://api.slack.com/robots)"

// DeliverHTTP switches event delivery to the HTTP Events API: each event is
// POSTed, signed, to url, and retried as described in the package doc.
// Events still queued for Socket Mode move to HTTP. DeliverHTTP("")
// switches back to Socket Mode.
func (s *Server) DeliverHTTP(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.httpURL = url
	if url != "" {
		s.httpQueue = append(s.httpQueue, s.smQueue...)
		s.smQueue = nil
		select {
		case s.httpSignal <- struct{}{}:
		default:
		}
		return
	}
	s.smQueue = append(s.smQueue, s.httpQueue...)
	s.httpQueue = nil
	s.wakeSocketsLocked()
}

// Sign returns the v0 signature Slack would send for body at Unix time ts:
// "v0=" + hex(HMAC-SHA256(signing secret, "v0:"+ts+":"+body)).
func (s *Server) Sign(ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(s.cfg.signingSecret))
	_, _ = io.WriteString(mac, "v0:"+ts+":")
	_, _ = mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) signedRequest(ctx context.Context, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(s.cfg.clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", slackUserAgent)
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", s.Sign(ts, body))
	return req, nil
}

// VerifyURL performs Slack's request URL check: it POSTs a signed
// url_verification payload and expects the challenge back, as plain text or
// as {"challenge":...}.
func (s *Server) VerifyURL(ctx context.Context, url string) error {
	challenge := strings.ReplaceAll(newUUID(), "-", "")
	body, _ := marshal(map[string]string{
		"token": s.cfg.verificationToken, "challenge": challenge, "type": "url_verification",
	})
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ackTimeout)
	defer cancel()
	req, err := s.signedRequest(ctx, url, body)
	if err != nil {
		return err
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return fmt.Errorf("slackfake: url_verification: %w", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("slackfake: url_verification: HTTP %d", resp.StatusCode)
	}
	var obj struct {
		Challenge string `json:"challenge"`
	}
	if strings.TrimSpace(string(got)) == challenge || (json.Unmarshal(got, &obj) == nil && obj.Challenge == challenge) {
		return nil
	}
	return fmt.Errorf("slackfake: url_verification: challenge not echoed, got %q", got)
}

// httpWorker makes the HTTP delivery attempts, one at a time, in queue
// order.
func (s *Server) httpWorker() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		var j *job
		url := s.httpURL
		for url != "" && len(s.httpQueue) > 0 && j == nil {
			j = s.httpQueue[0]
			s.httpQueue = s.httpQueue[1:]
			if j.finished {
				j = nil
			}
		}
		var attempt int
		var reason string
		var body []byte
		if j != nil {
			j.ev.attempts++
			attempt, reason, body = j.attempt, j.reason, j.ev.payload
		}
		s.mu.Unlock()

		if j == nil {
			select {
			case <-s.httpSignal:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		ok, noRetry, failReason := s.postEvent(url, body, attempt, reason)
		s.mu.Lock()
		switch {
		case ok:
			s.finishLocked(j, true)
		case noRetry:
			s.finishLocked(j, false)
		default:
			s.retryLocked(j, failReason)
		}
		s.mu.Unlock()
	}
}

// postEvent makes one delivery attempt.
func (s *Server) postEvent(url string, body []byte, attempt int, reason string) (ok, noRetry bool, failReason string) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ackTimeout)
	defer cancel()
	req, err := s.signedRequest(ctx, url, body)
	if err != nil {
		return false, true, "unknown_error"
	}
	if attempt > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(attempt))
		req.Header.Set("X-Slack-Retry-Reason", reason)
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return false, false, "http_timeout"
		}
		return false, false, "connection_failed"
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return true, false, ""
	case resp.Header.Get("X-Slack-No-Retry") == "1":
		return false, true, "http_error"
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return false, false, "too_many_redirects"
	default:
		return false, false, "http_error"
	}
}
