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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

func runRoute(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("route", "-config FILE [-summary] [-out FILE] [FILE|-]",
		"Reads posts as JSON Lines (id, text, optional author, lang, created_at, mentions; X API v2\n"+
			"tweet objects and pages too) or TWCS CSV (tweet_id,author_id,inbound,created_at,text,…),\n"+
			"and writes one JSON line per post: {\"id\",\"department\",\"fyi\",\"matched\"}.\n"+
			"With -summary it prints a table per department instead. Bad lines are reported and skipped.", stderr)
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	summary := fs.Bool("summary", false, "print a table per department (count, share, top keywords) instead of JSON lines")
	out := fs.String("out", "", "write the JSON lines to `file` (useful with -summary)")
	if err := parseFlagsAndArgs(fs, args); err != nil {
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

	// The clock starts before the first read: on a slow pipe, reading
	// is most of the time.
	start := routeNow()
	stderr = &lockedWriter{w: stderr} // the progress reporter writes too
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
	var done atomic.Int64 // posts read so far, for the progress reporter
	stopProgress := reportProgress(stderr, name, start, &done)
	defer stopProgress()
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
	bad := 0
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("interrupted after %d posts: %w", tally.total, err)
			}
		}
		p, _, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		done.Add(1)
		var le *file.LineError
		if errors.As(err, &le) {
			bad++
			fmt.Fprintf(stderr, "route: %s: skipped %v\n", name, le)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if rd.FromCompany() {
			// A brand's own reply (TWCS inbound = False) is no
			// customer post: carebridge would not mirror it.
			tally.company++
			continue
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
	stopProgress()
	if *summary {
		tally.print(stdout, routeNow().Sub(start))
	}
	if tally.company > 0 && !*summary {
		fmt.Fprintf(stderr, "route: %s company replies (inbound = False) skipped; %s customer posts routed\n", thousands(tally.company), thousands(tally.total))
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "route: %d bad line%s skipped; %d posts routed\n", bad, plural(bad), tally.total)
	}
	return nil
}

// routeNow is the route command's clock; tests move it.
var routeNow = time.Now

// progressEvery is how often a run reports progress on stderr, also while
// it waits for input.
var progressEvery = 2 * time.Second

// reportProgress prints, every progressEvery until stop is called, how
// many posts have been read from name, so that a long file or a slow pipe
// shows it is alive. stop may be called more than once.
func reportProgress(w io.Writer, name string, start time.Time, done *atomic.Int64) (stop func()) {
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n := done.Load()
			el := routeNow().Sub(start)
			rate := 0.0
			if el > 0 {
				rate = float64(n) / el.Seconds()
			}
			wait := ""
			if n == last {
				wait = ", waiting for input"
			}
			last = n
			fmt.Fprintf(w, "route: %s posts from %s in %s (%.0f/s%s)…\n", thousands(int(n)), name, el.Round(time.Second), rate, wait)
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit); <-finished })
	}
}

// lockedWriter serializes writes from the command and its progress
// reporter.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// thousands formats n with a comma between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// tally counts routing results per department.
type tally struct {
	cfg       *config.Config
	total     int // customer posts routed
	company   int // company replies skipped (TWCS inbound = False)
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

// print writes the summary table. Columns are as wide as their longest
// entry (a department name, a count with thousands separators).
func (t *tally) print(w io.Writer, took time.Duration) {
	type row struct{ label, posts, share, fyi, top string }
	rows := []row{{"DEPARTMENT", "POSTS", "SHARE", "FYI", "TOP KEYWORDS"}}
	for _, d := range t.cfg.Departments {
		n := t.count[d.ID]
		label := d.ID
		if d.ID == t.cfg.Triage {
			label += " (triage)"
		}
		rows = append(rows, row{label, thousands(n), fmt.Sprintf("%.1f%%", share(n, t.total)), thousands(t.fyi[d.ID]), topKeywords(t.keywords[d.ID], 5)})
	}
	rows = append(rows, row{"TOTAL", thousands(t.total), "100.0%", "", ""})
	var wl, wp, wf int
	for _, r := range rows {
		wl, wp, wf = max(wl, len([]rune(r.label))), max(wp, len(r.posts)), max(wf, len(r.fyi))
	}
	for _, r := range rows {
		line := fmt.Sprintf("%-*s  %*s  %6s  %*s  %s", wl, r.label, wp, r.posts, r.share, wf, r.fyi, r.top)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintf(w, "unmatched (sent to triage): %s (%.1f%%); routed in %s\n", thousands(t.unmatched), share(t.unmatched, t.total), took.Round(time.Millisecond))
	if t.company > 0 {
		fmt.Fprintf(w, "not counted: %s company replies (TWCS inbound = False)\n", thousands(t.company))
	}
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
