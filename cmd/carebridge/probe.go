package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// runProbe asks a running `carebridge serve` whether it is ready: exit 0
// when GET /readyz answers 200, 1 otherwise. It is the container's health
// check (the distroless image has no shell, curl or wget).
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", "[-addr HOST:PORT] [-path /readyz] [-timeout 3s] [-q]",
		"Asks a running `carebridge serve` whether it is ready: GET http://ADDR/readyz.\nExits 0 when it answers 200, 1 when it answers anything else or cannot be reached.\nUsed as the Docker image's HEALTHCHECK; Kubernetes probes /readyz and /healthz itself.", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` of the service's HTTP listener (http.addr; a bare :PORT means this host)")
	path := fs.String("path", "/readyz", "`path` to ask: /readyz (the database answers) or /healthz (the process runs)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this `duration`")
	quiet := fs.Bool("q", false, "print nothing when ready")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "carebridge probe: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "carebridge probe: -addr %q is not host:port (e.g. 127.0.0.1:8080)\n", *addr)
		return errUsage
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if !strings.HasPrefix(*path, "/") {
		*path = "/" + *path
	}
	url := "http://" + net.JoinHostPort(host, port) + *path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// No proxy: the service is local, whatever HTTPS_PROXY says.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "carebridge probe: %s: not reachable: %v\n", url, err)
		return exitError(1)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "carebridge probe: %s: %s: %s\n", url, resp.Status, msg)
		return exitError(1)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "%s: %s\n", url, msg)
	}
	return nil
}
