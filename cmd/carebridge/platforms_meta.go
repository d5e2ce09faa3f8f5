package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carebridge/carebridge/adapters/meta"
	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
)

// metaParts are Facebook's and Instagram's adapters: what the webhook and
// /readyz need after the core is built. A nil *metaParts (no pages
// configured) does nothing.
type metaParts struct {
	pages  []meta.Page
	health *meta.Health
	log    *slog.Logger
}

// registerMeta builds the Meta adapters from cfg.Meta and registers them
// with the core: the rules of both networks, a replier each, the pages as
// our accounts (a page's comments and messages are answered as that
// page), their ids as official (our own comments never open tickets), and
// a gauge of broken page tokens.
func registerMeta(opt *bridge.Options, cfg *config.Config, clock bridge.Clock, log *slog.Logger, m *metrics) *metaParts {
	if len(cfg.Meta.Pages) == 0 {
		return nil
	}
	mp := &metaParts{health: meta.NewHealth(), log: log}
	for _, p := range cfg.Meta.Pages {
		mp.pages = append(mp.pages, meta.Page{Name: p.Name, ID: p.PageID, Token: p.PageToken.Reveal(), AppSecret: p.AppSecret.Reveal(),
			VerifyToken: p.VerifyToken.Reveal(), InstagramID: p.InstagramID})
	}
	g := meta.NewGraph(cfg.Meta.GraphAPIBaseURL, cfg.Meta.GraphAPIVersion, outboundClient(30*time.Second, 0), clock, mp.health, log)
	if opt.Repliers == nil {
		opt.Repliers = map[bridge.Platform]bridge.Replier{}
	}
	if opt.Accounts == nil {
		opt.Accounts = map[bridge.Platform][]string{}
	}
	if opt.Official == nil {
		opt.Official = map[string]bool{}
	}
	for _, platform := range []bridge.Platform{meta.Facebook, meta.Instagram} {
		opt.Networks = append(opt.Networks, meta.NewNetwork(platform, clock, cfg.Location, cfg.Meta.HumanAgent))
		opt.Repliers[platform] = meta.NewReplier(platform, g, mp.pages, cfg.Meta.HumanAgent)
	}
	for _, p := range mp.pages {
		opt.Accounts[meta.Facebook] = append(opt.Accounts[meta.Facebook], p.Name)
		opt.Official[p.ID] = true
		if p.InstagramID != "" {
			opt.Accounts[meta.Instagram] = append(opt.Accounts[meta.Instagram], p.Name)
			opt.Official[p.InstagramID] = true
		}
	}
	if m != nil {
		m.reg.MustRegister(&metaCollector{parts: mp})
	}
	return mp
}

// mount serves Meta's webhook at /meta/webhook, ingesting into sink.
func (mp *metaParts) mount(mux *http.ServeMux, sink bridge.Sink) {
	if mp == nil {
		return
	}
	mux.Handle("/meta/webhook", meta.NewReceiver(mp.pages, sink, mp.log))
}

// readyDetail adds a line per page whose token Meta refuses (190) to
// /readyz. The process stays ready: the webhook must keep receiving.
func (mp *metaParts) readyDetail(w http.ResponseWriter) {
	if mp == nil {
		return
	}
	broken := mp.health.Broken()
	names := make([]string, 0, len(broken))
	for n := range broken {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b := broken[n]
		fmt.Fprintf(w, "meta page %s: token refused by Meta (error 190) since %s: %s — renew meta.pages[].page_token\n",
			n, b.Since.UTC().Format("2006-01-02T15:04:05Z"), strings.TrimSpace(b.Reason))
	}
}

// metaCollector reports carebridge_meta_page_broken{page}: 1 while Meta
// refuses the page's token (190), else 0.
type metaCollector struct{ parts *metaParts }

var metaBroken = prometheus.NewDesc("carebridge_meta_page_broken", "1 while Meta refuses the page's token (error 190) and no call has succeeded since.", []string{"page"}, nil)

func (c *metaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- metaBroken }

func (c *metaCollector) Collect(ch chan<- prometheus.Metric) {
	broken := c.parts.health.Broken()
	for _, p := range c.parts.pages {
		v := 0.0
		if _, ok := broken[p.Name]; ok {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(metaBroken, prometheus.GaugeValue, v, p.Name)
	}
}
