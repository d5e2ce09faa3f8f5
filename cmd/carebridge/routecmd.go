package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/carebridge/carebridge/adapters/file"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/bridge/route"
)

// routeLine is one line of `carebridge route` output.
type routeLine struct {
	ID         string   `json:"id"`
	Department string   `json:"department"`
	FYI        []string `json:"fyi"`
	Matched    []string `json:"matched"`
}

// progressEvery is how long a run goes before it reports progress.
const progressEvery = 2 * time.Second

func runRoute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("route", "-config FILE [-summary] [-out FILE] [FILE|-]",
		"Reads posts as JSON Lines (id, text, optional author, lang, created_at, mentions; X API v2\n"+
			"tweet objects and pages too) or TWCS CSV (tweet_id,author_id,inbound,created_at,text,…),\n"+
			"and writes one JSON line per post: {\"id\",\"department\",\"fyi\",\"matched\"}.\n"+
			"With -summary it prints a table per department instead. Bad lines are reported and skipped.", stderr)
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	summary := fs.Bool("summary", false, "print a table per department (count, share, top keywords) instead of JSON lines")
	out := fs.String("out", "", "write the JSON lines to `file` (useful with -summary)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fmt.Fprintln(stderr, "route: give one input file, or - for standard input")
		return errUsage
	}
	cfg, err := config.Load(*path, config.LevelRouting)
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s has problems (run carebridge check -config %s):\n%v\n", *path, *path, errs)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	router, err := cfg.Router()
	if err != nil {
		return err
	}

	var in io.Reader = os.Stdin
	name := "standard input"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	rd, err := file.NewReader(in)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	var jsonOut *bufio.Writer
	switch {
	case *out != "":
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer f.Close()
		jsonOut = bufio.NewWriterSize(f, 1<<16)
	case !*summary:
		jsonOut = bufio.NewWriterSize(stdout, 1<<16)
	}
	enc := json.NewEncoder(io.Discard)
	if jsonOut != nil {
		enc = json.NewEncoder(jsonOut)
		enc.SetEscapeHTML(false)
	}

	tally := newTally(cfg)
	start := time.Now()
	lastProgress := start
	bad := 0
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("interrupted after %d posts: %w", tally.total, err)
			}
			if now := time.Now(); now.Sub(lastProgress) >= progressEvery {
				lastProgress = now
				fmt.Fprintf(stderr, "route: %d posts from %s (%.0f/s)…\n", tally.total, name, float64(tally.total)/now.Sub(start).Seconds())
			}
		}
		p, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *file.LineError
		if errors.As(err, &le) {
			bad++
			fmt.Fprintf(stderr, "route: %s: skipped %v\n", name, le)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res := router.Route(route.Input{Text: p.Text, Mentions: p.Mentions})
		tally.add(res)
		line := routeLine{ID: p.ExternalID, Department: res.Department, FYI: res.FYI, Matched: res.Matched}
		if line.FYI == nil {
			line.FYI = []string{}
		}
		if line.Matched == nil {
			line.Matched = []string{}
		}
		if err := enc.Encode(line); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if jsonOut != nil {
		if err := jsonOut.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if *summary {
		tally.print(stdout, time.Since(start))
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "route: %d bad line%s skipped; %d posts routed\n", bad, plural(bad), tally.total)
	}
	return nil
}

// tally counts routing results per department.
type tally struct {
	cfg       *config.Config
	total     int
	unmatched int // posts no rule matched
	count     map[string]int
	fyi       map[string]int
	keywords  map[string]map[string]int
}

func newTally(cfg *config.Config) *tally {
	return &tally{cfg: cfg, count: map[string]int{}, fyi: map[string]int{}, keywords: map[string]map[string]int{}}
}

func (t *tally) add(r route.Result) {
	t.total++
	if r.Rule < 0 {
		t.unmatched++
	}
	t.count[r.Department]++
	for _, f := range r.FYI {
		t.fyi[f]++
	}
	kw := t.keywords[r.Department]
	if kw == nil {
		kw = map[string]int{}
		t.keywords[r.Department] = kw
	}
	for _, m := range r.Matched {
		kw[m]++
	}
}

func (t *tally) print(w io.Writer, took time.Duration) {
	fmt.Fprintf(w, "%-14s %7s %7s %6s  %s\n", "DEPARTMENT", "POSTS", "SHARE", "FYI", "TOP KEYWORDS")
	for _, d := range t.cfg.Departments {
		n := t.count[d.ID]
		label := d.ID
		if d.ID == t.cfg.Triage {
			label += " (triage)"
		}
		fmt.Fprintf(w, "%-14s %7d %6.1f%% %6d  %s\n", label, n, share(n, t.total), t.fyi[d.ID], topKeywords(t.keywords[d.ID], 5))
	}
	fmt.Fprintf(w, "%-14s %7d %6.1f%%\n", "TOTAL", t.total, 100.0)
	fmt.Fprintf(w, "unmatched (sent to triage): %d (%.1f%%); routed in %s\n", t.unmatched, share(t.unmatched, t.total), took.Round(time.Millisecond))
}

func share(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func topKeywords(kw map[string]int, n int) string {
	type kc struct {
		k string
		c int
	}
	var list []kc
	for k, c := range kw {
		list = append(list, kc{k, c})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].c != list[j].c {
			return list[i].c > list[j].c
		}
		return list[i].k < list[j].k
	})
	if len(list) > n {
		list = list[:n]
	}
	parts := make([]string, len(list))
	for i, e := range list {
		parts[i] = fmt.Sprintf("%s %d", e.k, e.c)
	}
	return strings.Join(parts, ", ")
}
