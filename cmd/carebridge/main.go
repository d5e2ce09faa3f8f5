// Command carebridge brings a company's social-media customer care into
// Slack: it listens on X, mirrors every matching post into the owning
// department's channel, and sends the answers managers approve.
//
// This package is the only composition root: it reads flags and the
// configuration, opens the store, builds the adapters and wires them to the
// core in package bridge.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // time zones even in a scratch container
)

// version is set at build time with -ldflags "-X main.version=…"
// (currentVersion falls back on the VCS stamp of the Go toolchain).
var version = "dev"

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// exitError carries an exit status without printing anything more.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "[-keep] [-v]", "see the whole loop in a few seconds: fakes of X and Slack, no account needed", runDemo},
		{"check", checkArgs, "validate a configuration file and summarize it; -serve: also what serve needs; -online: and try it", runCheck},
		{"route", "-config FILE [-summary] [-out FILE] [FILE|-]", "show which department each post in a JSONL or TWCS CSV file would go to", runRoute},
		{"serve", "-config FILE", "run the service: listen on X, mirror into Slack", runServe},
		{"audit", "export|verify -config FILE", "export the audit log (jsonl or csv) or verify its hash chain", runAudit},
		{"migrate", "-config FILE", "apply database migrations and exit", runMigrate},
		{"probe", "[-addr HOST:PORT]", "exit 0 when a running service's /readyz answers 200 (the container health check)", runProbe},
		{"x-login", xLoginArgs, "authorize an X account (OAuth 2.0 with PKCE) and print its tokens", runXLogin},
		{"version", "", "print the version (also: carebridge -version)", func(_ context.Context, args []string, stdout, stderr io.Writer) error {
			if err := parseFlags(newFlags("version", "", "Prints the version.", stderr), args); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "carebridge", currentVersion())
			return nil
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `carebridge — social-media customer care in Slack

Usage:
  carebridge <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprint(w, `
Run "carebridge <command> -h" for a command's flags.
Configuration reference: examples/carebridge.yaml.
`)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "-version" || args[0] == "--version" {
		args = []string{"version"}
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var code exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.As(err, &code):
			return int(code)
		default:
			fmt.Fprintf(stderr, "carebridge %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "carebridge: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// newFlags returns a flag set that prints its usage to stderr and reports
// mistakes as errUsage.
func newFlags(name, args, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: carebridge %s %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, mapping errors to errUsage. Arguments left after
// the flags are a usage mistake (a misspelt flag value, a forgotten -config
// are not silently ignored); a command that takes arguments uses
// parseFlagsAndArgs.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsAndArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q (flags go before arguments; see the usage below)\n\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// parseFlagsAndArgs parses args, mapping errors to errUsage, and leaves the
// arguments after the flags in fs.Args().
func parseFlagsAndArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
