package teams

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The example app manifest operators upload: valid JSON with exactly the
// fields carebridge documents, a bot in every scope, and the RSC
// permission without which staff replies in threads never reach the bot.
func TestExampleManifest(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "teams-app")
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Schema          string `json:"$schema"`
		ManifestVersion string `json:"manifestVersion"`
		Version         string `json:"version"`
		ID              string `json:"id"`
		Developer       struct {
			Name, WebsiteURL, PrivacyURL, TermsOfUseURL string
		} `json:"developer"`
		Name        struct{ Short, Full string }    `json:"name"`
		Description struct{ Short, Full string }    `json:"description"`
		Icons       struct{ Color, Outline string } `json:"icons"`
		AccentColor string                          `json:"accentColor"`
		Bots        []struct {
			BotID              string   `json:"botId"`
			Scopes             []string `json:"scopes"`
			SupportsFiles      bool     `json:"supportsFiles"`
			IsNotificationOnly bool     `json:"isNotificationOnly"`
		} `json:"bots"`
		Permissions        []string `json:"permissions"`
		ValidDomains       []string `json:"validDomains"`
		WebApplicationInfo struct {
			ID       string `json:"id"`
			Resource string `json:"resource"`
		} `json:"webApplicationInfo"`
		Authorization struct {
			Permissions struct {
				ResourceSpecific []struct {
					Name string `json:"name"`
					Type string `json:"type"`
				} `json:"resourceSpecific"`
			} `json:"permissions"`
		} `json:"authorization"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(m.Bots) != 1 || m.Bots[0].IsNotificationOnly {
		t.Fatalf("bots: %+v", m.Bots)
	}
	for _, scope := range []string{"team", "personal", "groupChat"} {
		if !slices.Contains(m.Bots[0].Scopes, scope) {
			t.Errorf("bot lacks the %s scope", scope)
		}
	}
	if m.Bots[0].BotID != m.ID || m.WebApplicationInfo.ID != m.ID {
		t.Errorf("the app id differs between id, botId and webApplicationInfo.id")
	}
	rsc := map[string]string{}
	for _, p := range m.Authorization.Permissions.ResourceSpecific {
		rsc[p.Name] = p.Type
	}
	for _, want := range []string{"ChannelMessage.Read.Group", "ChannelMessage.Send.Group"} {
		if rsc[want] != "Application" {
			t.Errorf("RSC permission %s missing (have %v)", want, rsc)
		}
	}
	for _, icon := range []string{m.Icons.Color, m.Icons.Outline} {
		if _, err := os.Stat(filepath.Join(dir, icon)); err != nil {
			t.Errorf("icon %s: %v", icon, err)
		}
	}
}
