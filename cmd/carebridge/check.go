package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/carebridge/carebridge/bridge/config"
)

// checkArgs is check's usage line.
const checkArgs = "-config FILE [-serve] [-online]"

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", checkArgs, "Validates the configuration and prints OK and a summary, or every problem with its line.\n"+
		"-serve also checks, offline, what carebridge serve needs (tokens and their formats, accounts,\n"+
		"the store URL); -online also calls Slack (auth.test), X (users/me for each account) and opens\n"+
		"the store, and says for each whether it answered, refused the credentials or was unreachable.", stderr)
	path := fs.String("config", "carebridge.yaml", "configuration `file`")
	// No backquotes in these usages: the flag package would take the
	// quoted word for the name of a value.
	serve := fs.Bool("serve", false, "also check, offline, what serve needs (tokens and their formats, accounts, store URL)")
	online := fs.Bool("online", false, "like -serve, then call Slack, X and the store with the configured credentials")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	level := config.LevelRouting
	if *serve || *online {
		level = config.LevelServe
	}
	cfg, err := config.Load(*path, level)
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintf(stdout, "%s: %d problem%s:\n", *path, len(errs), plural(len(errs)))
		for _, p := range errs {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		return exitError(1)
	}
	if err != nil {
		return err
	}
	if _, err := cfg.Router(); err != nil {
		return err
	}
	s := cfg.Summarize()
	fmt.Fprintln(stdout, "OK")
	fmt.Fprintf(stdout, "  %d department%s, %d routing rule%s, %d keyword%s; triage: %s\n",
		s.Departments, plural(s.Departments), s.Rules, plural(s.Rules), s.Keywords, plural(s.Keywords), cfg.Triage)
	for _, d := range cfg.Departments {
		rules, kws := 0, 0
		for _, r := range cfg.Routes {
			if r.Department == d.ID {
				rules++
				kws += len(r.Keywords)
			}
		}
		approval := d.Approval
		if d.Approval == config.ApprovalRequired {
			approval = fmt.Sprintf("approval by %s", strings.Join(d.Approvers, ", "))
		} else {
			approval = "no approval (reply:/dm: prefixes)"
		}
		fmt.Fprintf(stdout, "  %-12s %-16s %2d rule%s %3d keyword%s  %s\n", d.ID, d.Channel, rules, plural(rules), kws, plural(kws), approval)
	}
	if cfg.Chat == config.ChatTeams {
		checkTeams(stdout, cfg)
	}
	if s.Accounts > 0 || s.Searches > 0 {
		fmt.Fprintf(stdout, "  X: %d official account%s, %d search%s; time zone %s\n", s.Accounts, plural(s.Accounts), s.Searches, pluralES(s.Searches), cfg.Location)
	}
	checkBluesky(stdout, cfg)
	if *online {
		return checkOnline(ctx, cfg, stdout)
	}
	if *serve {
		fmt.Fprintln(stdout, "  (checked offline: -online also tries the tokens, the accounts and the store)")
	}
	checkFeeds(stdout, cfg) // blogs and forums (platforms_feed.go)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func pluralES(n int) string {
	if n == 1 {
		return ""
	}
	return "es"
}
