package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Meta configures Facebook Pages and the Instagram accounts linked to
// them (adapters/meta): the webhook at /meta/webhook and the Graph API.
type Meta struct {
	// GraphAPIBaseURL is the Graph API's address (default
	// https://graph.facebook.com); tests point it at the fake.
	GraphAPIBaseURL string `yaml:"graph_api_base_url"`
	// GraphAPIVersion is pinned in every call ("v25.0"): Meta upgrades an
	// expired version silently to the next one, so carebridge never
	// calls unversioned paths.
	GraphAPIVersion string `yaml:"graph_api_version"`
	// HumanAgent lets DMs go out 24 hours to 7 days after the customer's
	// last message with the HUMAN_AGENT tag. It needs Meta's Human Agent
	// permission (App Review); off, such DMs are refused up front.
	HumanAgent bool `yaml:"human_agent"`
	// Pages are the Facebook Pages carebridge listens on and answers as.
	Pages []MetaPage `yaml:"pages"`
}

// MetaPage is one Facebook Page, and the Instagram professional account
// linked to it through Facebook Login if any.
type MetaPage struct {
	// Name is the account name carebridge uses for the page in threads
	// and routes ("answer as @acmecare"; a route's accounts may name it
	// to send the page's comments and messages to one department). It
	// names the linked Instagram account too.
	Name string `yaml:"name"`
	// PageID is the Page's numeric id.
	PageID string `yaml:"page_id"`
	// PageToken is a Page access token (long-lived, or a system user's)
	// with pages_manage_engagement, pages_messaging,
	// pages_read_engagement and, for Instagram, instagram_manage_comments
	// and instagram_manage_messages.
	PageToken     Secret `yaml:"page_token"`
	PageTokenFile string `yaml:"page_token_file"`
	// AppSecret signs the webhook deliveries for this page
	// (X-Hub-Signature-256); pages of one app share it.
	AppSecret     Secret `yaml:"app_secret"`
	AppSecretFile string `yaml:"app_secret_file"`
	// VerifyToken is the token typed into the app's webhook settings;
	// Meta sends it back when it verifies the callback URL.
	VerifyToken     Secret `yaml:"verify_token"`
	VerifyTokenFile string `yaml:"verify_token_file"`
	// InstagramID is the numeric id of the Instagram professional
	// account linked to the page (optional).
	InstagramID string `yaml:"instagram_id"`
}

// Meta defaults.
const (
	DefaultGraphAPIBaseURL = "https://graph.facebook.com"
	// DefaultGraphAPIVersion is the version Meta's English versioning
	// page calls the latest (its localized pages say v26.0; both are
	// accepted by validation).
	DefaultGraphAPIVersion = "v25.0"
)

var (
	graphVersion = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]$`)
	metaID       = regexp.MustCompile(`^[0-9]{1,25}$`)
)

// metaPageName reports whether name is one of meta.pages: a route's
// accounts may name a page, to send its comments and messages to one
// department.
func metaPageName(c *Config, name string) bool {
	for _, p := range c.Meta.Pages {
		if p.Name != "" && strings.EqualFold(p.Name, name) {
			return true
		}
	}
	return false
}

func (m *Meta) applyDefaults() {
	if len(m.Pages) == 0 {
		return
	}
	if m.GraphAPIBaseURL == "" {
		m.GraphAPIBaseURL = DefaultGraphAPIBaseURL
	}
	if m.GraphAPIVersion == "" {
		m.GraphAPIVersion = DefaultGraphAPIVersion
	}
}

// meta checks the meta section; it counts only at LevelServe.
func (v *validator) meta() {
	m := &v.cfg.Meta
	m.applyDefaults()
	if len(m.Pages) == 0 {
		return
	}
	if u, err := url.Parse(m.GraphAPIBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.bad("meta.graph_api_base_url", "%q is not an http(s) URL", m.GraphAPIBaseURL)
	}
	if !graphVersion.MatchString(m.GraphAPIVersion) {
		v.bad("meta.graph_api_version", "%q is not a Graph API version such as %s", m.GraphAPIVersion, DefaultGraphAPIVersion)
	}
	names, ids := map[string]bool{}, map[string]bool{}
	for i, p := range m.Pages {
		path := fmt.Sprintf("meta.pages[%d]", i)
		switch {
		case !idPattern.MatchString(p.Name):
			v.bad(path+".name", "required: a short name using a-z, 0-9, _ and - (the account name threads show)")
		case names[p.Name]:
			v.bad(path+".name", "duplicate page name %q", p.Name)
		}
		names[p.Name] = true
		switch {
		case !metaID.MatchString(p.PageID):
			v.bad(path+".page_id", "required: the Page's numeric id")
		case ids[p.PageID]:
			v.bad(path+".page_id", "duplicate page %s", p.PageID)
		}
		ids[p.PageID] = true
		if p.InstagramID != "" && !metaID.MatchString(p.InstagramID) {
			v.bad(path+".instagram_id", "%q is not a numeric Instagram account id", p.InstagramID)
		}
		if v.level < LevelServe {
			continue
		}
		for _, s := range []struct {
			key, what string
			val       Secret
		}{
			{"page_token", "a Page access token", p.PageToken},
			{"app_secret", "the app secret that signs the webhook deliveries", p.AppSecret},
			{"verify_token", "the webhook's verify token", p.VerifyToken},
		} {
			if !s.val.IsSet() {
				v.bad(path+"."+s.key, "required: %s (or %s_file)", s.what, s.key)
			} else if strings.TrimSpace(s.val.Reveal()) != s.val.Reveal() {
				v.bad(path+"."+s.key, "has white space around it")
			}
		}
	}
}
