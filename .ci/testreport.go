//go:build ignore

// testreport reads the output of `go test -json` and prints what a reader
// of the CI log needs: each package's closing line (as plain `go test`
// prints it), the whole output of every failed test, the slowest tests,
// and every skipped test with its reason. It exits 1 if a test failed or
// if a test skipped for a reason that is not allowed.
//
//	go run .ci/testreport.go -allow 'reason substring' -allow '…' test.json
//
// A skip is allowed when its reason contains one of the -allow strings;
// .ci/test.sh lists them, with why each is acceptable.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

type event struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type allowList []string

func (a *allowList) String() string     { return strings.Join(*a, "; ") }
func (a *allowList) Set(s string) error { *a = append(*a, s); return nil }

type testKey struct{ pkg, test string }

func main() {
	var allow allowList
	flag.Var(&allow, "allow", "a skip reason (substring) that does not fail the run; repeatable")
	slowest := flag.Int("slowest", 12, "how many of the slowest top-level tests to list")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: go run .ci/testreport.go [-allow reason]... test.json")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()

	output := map[testKey][]string{}
	var order []testKey
	result := map[testKey]event{}
	starts, ends := map[testKey]time.Time{}, map[testKey]time.Time{}
	var pkgLines []string
	var notJSON []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			notJSON = append(notJSON, sc.Text())
			continue
		}
		k := testKey{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				line := strings.TrimRight(e.Output, "\n")
				if isClosing(line) {
					pkgLines = append(pkgLines, line)
				} else if e.Action == "build-output" || strings.HasPrefix(line, "#") || strings.Contains(line, "[build failed]") || strings.Contains(line, "[setup failed]") {
					pkgLines = append(pkgLines, line)
				}
				continue
			}
			if _, seen := output[k]; !seen {
				order = append(order, k)
			}
			output[k] = append(output[k], e.Output)
		case "run", "cont":
			starts[k] = e.Time // a parallel test starts running at "cont"
		case "pass", "fail", "skip":
			if e.Test != "" {
				result[k] = e
				ends[k] = e.Time
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	bad := false
	// Failed tests: their whole output, innermost failures included.
	for _, k := range order {
		if r, ok := result[k]; ok && r.Action == "fail" && !strings.Contains(k.test, "/") {
			bad = true
			fmt.Printf("\n--- FAIL: %s (%s, %.1fs)\n", k.test, k.pkg, r.Elapsed)
			for _, kk := range order {
				if kk.pkg == k.pkg && (kk.test == k.test || strings.HasPrefix(kk.test, k.test+"/")) {
					fmt.Print(strings.Join(output[kk], ""))
				}
			}
		}
	}

	// Skipped tests and their reasons.
	var skipped, disallowed []string
	for _, k := range order {
		r, ok := result[k]
		if !ok || r.Action != "skip" {
			continue
		}
		reason := skipReason(output[k])
		line := fmt.Sprintf("%s %s: %s", shortPkg(k.pkg), k.test, reason)
		if allowed(reason, allow) {
			skipped = append(skipped, line)
		} else {
			disallowed = append(disallowed, line)
		}
	}
	fmt.Printf("\nskipped tests: %d allowed, %d not allowed\n", len(skipped), len(disallowed))
	for _, l := range skipped {
		fmt.Println("  allowed:     ", l)
	}
	for _, l := range disallowed {
		fmt.Println("  NOT ALLOWED: ", l)
	}
	if len(disallowed) > 0 {
		bad = true
		fmt.Println("A test that should have run skipped. Fix what it needs, or (if the reason is right for CI) add it to .ci/test.sh's allow list with why.")
	}

	// The slowest top-level tests, by wall clock from their start to the
	// end of their last subtest (a parallel parent reports 0 s itself).
	type wall struct {
		key testKey
		d   time.Duration
	}
	var tops []wall
	for k, r := range result {
		if strings.Contains(k.test, "/") || r.Action == "skip" {
			continue
		}
		end, sub := ends[k], time.Time{}
		for kk, t := range ends {
			if kk.pkg == k.pkg && strings.HasPrefix(kk.test, k.test+"/") && t.After(sub) {
				sub = t
			}
		}
		if !sub.IsZero() {
			end = sub // a parallel parent's own end comes when the package's last test ends
		}
		d := end.Sub(starts[k])
		if starts[k].IsZero() || d < 0 {
			d = time.Duration(r.Elapsed * float64(time.Second))
		}
		tops = append(tops, wall{k, d})
	}
	sort.Slice(tops, func(i, j int) bool { return tops[i].d > tops[j].d })
	if len(tops) > *slowest {
		tops = tops[:*slowest]
	}
	fmt.Println("\nslowest tests (wall clock, subtests included):")
	for _, w := range tops {
		fmt.Printf("  %7.1fs  %s %s\n", w.d.Seconds(), shortPkg(w.key.pkg), w.key.test)
	}

	if len(notJSON) > 0 {
		fmt.Println("\noutside the JSON stream:")
		for _, l := range notJSON {
			fmt.Println("  " + l)
		}
	}
	// The closing lines, as plain `go test` ends.
	fmt.Println()
	for _, l := range pkgLines {
		fmt.Println(l)
		if strings.HasPrefix(l, "FAIL") {
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
}

// isClosing reports whether a package-level line is one of go test's
// closing lines: ok, FAIL, or "?   pkg [no test files]".
func isClosing(line string) bool {
	return strings.HasPrefix(line, "ok  \t") || strings.HasPrefix(line, "FAIL\t") || line == "FAIL" ||
		strings.HasPrefix(line, "?   \t") || strings.HasPrefix(line, "--- FAIL")
}

// skipReason is what a skipped test printed: its t.Skip message and logs,
// without the === and --- framing lines.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}

func allowed(reason string, allow []string) bool {
	for _, a := range allow {
		if a != "" && strings.Contains(reason, a) {
			return true
		}
	}
	return false
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/carebridge/carebridge/")
}
