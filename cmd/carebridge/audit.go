package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/carebridge/carebridge/bridge"
	"github.com/carebridge/carebridge/bridge/config"
	"github.com/carebridge/carebridge/store"
)

// auditUsage is the audit command's help.
const auditUsage = `Usage:
  carebridge audit export -config FILE [-format jsonl|csv] [-since TIME] [-department ID]
  carebridge audit verify -config FILE

export writes the audit log (who wrote, approved and sent what, where, when).
verify checks the hash chain and names the first altered, deleted or reordered record.
Run "carebridge audit export -h" or "carebridge audit verify -h" for the flags.
`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return errUsage
	}
	sub := args[0]
	switch sub {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, auditUsage)
		return nil
	case "export", "verify":
	default:
		fmt.Fprintf(stderr, "carebridge audit: unknown subcommand %q (want export or verify)\n\n%s", sub, auditUsage)
		return errUsage
	}
	var fs *flag.FlagSet
	var format, since, dept *string
	if sub == "export" {
		fs = newFlags("audit export", "-config FILE [-format jsonl|csv] [-since TIME] [-department ID]",
			"Writes the audit log of the store named by store.url: one JSON line (or CSV row) per record.", stderr)
		format = fs.String("format", "jsonl", "export format: jsonl or csv")
		since = fs.String("since", "", "export records at or after `TIME` (RFC 3339, or YYYY-MM-DD in the configured time zone)")
		dept = fs.String("department", "", "export only records of department `ID`")
	} else {
		fs = newFlags("audit verify", "-config FILE",
			"Recomputes the hash chain of the audit log of the store named by store.url, names the first\n"+
				"altered, deleted or reordered record (exit 1), and prints the head hash.", stderr)
	}
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path, config.LevelStore)
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stderr, "%s has problems:\n%v\n", *path, errs)
		return exitError(1)
	}
	if err != nil {
		return err
	}
	var f bridge.AuditFilter
	if sub == "export" {
		f.Department = *dept
		if *since != "" {
			t, err := parseSince(*since, cfg.Location)
			if err != nil {
				fmt.Fprintf(stderr, "-since: %v\n", err)
				return errUsage
			}
			f.Since = t
		}
		switch *format {
		case "jsonl", "csv":
		default:
			fmt.Fprintf(stderr, "-format: %q is not jsonl or csv\n", *format)
			return errUsage
		}
	}
	st, err := store.Open(ctx, cfg.Store.URL.Reveal(), store.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "verify" {
		return auditVerify(ctx, st, stdout)
	}
	n, err := auditExport(ctx, st, f, *format, stdout)
	if err != nil || n > 0 {
		return err
	}
	// Nothing matched. A department the configuration does not know is
	// most likely a typo (records of a department removed since are still
	// exported above); otherwise say so on stderr, so that an empty
	// output is not mistaken for a failure.
	if f.Department != "" && cfg.Department(f.Department) == nil {
		var ids []string
		for _, d := range cfg.Departments {
			ids = append(ids, d.ID)
		}
		fmt.Fprintf(stderr, "carebridge audit export: unknown department %q: not in %s (%s) and no record names it\n", f.Department, *path, strings.Join(ids, ", "))
		return exitError(1)
	}
	fmt.Fprintln(stderr, "carebridge audit export: no records match")
	return nil
}

func parseSince(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2026-11-20T09:00:00+09:00) nor a date (2026-11-20)", s)
}

// auditPage is how many records are read at a time.
const auditPage = 1000

// auditReader is what the audit commands read from the store.
type auditReader interface {
	AuditRecords(ctx context.Context, f bridge.AuditFilter) ([]bridge.AuditRecord, error)
}

// eachAudit calls fn for every record matching f, in Seq order.
func eachAudit(ctx context.Context, st *store.Store, f bridge.AuditFilter, fn func(bridge.AuditRecord) error) error {
	r, err := store.Runner[auditReader](st)
	if err != nil {
		return err
	}
	f.Limit = auditPage
	for {
		var page []bridge.AuditRecord
		err := r.WithTx(ctx, func(tx auditReader) error {
			var err error
			page, err = tx.AuditRecords(ctx, f)
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(page) < auditPage {
			return nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
}

// exportRecord is the export form of an audit record.
type exportRecord struct {
	Seq        int64           `json:"seq"`
	At         string          `json:"at"`
	Kind       string          `json:"kind"`
	Actor      string          `json:"actor"`
	Department string          `json:"department,omitempty"`
	TicketID   int64           `json:"ticket_id,omitempty"`
	DraftID    int64           `json:"draft_id,omitempty"`
	Details    json.RawMessage `json:"details"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// auditExport writes the records matching f and returns how many.
func auditExport(ctx context.Context, st *store.Store, f bridge.AuditFilter, format string, w io.Writer) (int, error) {
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if format == "csv" {
		cw = csv.NewWriter(w)
		cw.Write([]string{"seq", "at", "kind", "actor", "department", "ticket_id", "draft_id", "details", "prev_hash", "hash"})
	}
	n := 0
	err := eachAudit(ctx, st, f, func(r bridge.AuditRecord) error {
		n++
		at := r.At.UTC().Format(time.RFC3339Nano)
		if cw != nil {
			return cw.Write([]string{strconv.FormatInt(r.Seq, 10), at, string(r.Kind), r.Actor, r.Department,
				strconv.FormatInt(r.TicketID, 10), strconv.FormatInt(r.DraftID, 10), string(r.Details), r.PrevHash, r.Hash})
		}
		return enc.Encode(exportRecord{Seq: r.Seq, At: at, Kind: string(r.Kind), Actor: r.Actor, Department: r.Department,
			TicketID: r.TicketID, DraftID: r.DraftID, Details: r.Details, PrevHash: r.PrevHash, Hash: r.Hash})
	})
	if cw != nil {
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
	}
	return n, err
}

func auditVerify(ctx context.Context, st *store.Store, w io.Writer) error {
	var all []bridge.AuditRecord
	if err := eachAudit(ctx, st, bridge.AuditFilter{}, func(r bridge.AuditRecord) error {
		all = append(all, r)
		return nil
	}); err != nil {
		return err
	}
	n, err := bridge.VerifyAudit(all)
	if err != nil {
		fmt.Fprintf(w, "audit verify: FAILED after %d good records: %v\n", n, err)
		return exitError(1)
	}
	head := "(empty)"
	if n > 0 {
		head = all[n-1].Hash
	}
	fmt.Fprintf(w, "audit verify: OK (%d records; head %s)\n", n, head)
	return nil
}
