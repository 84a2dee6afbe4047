// Command oidcbench holds the helpers of scripts/bench.sh that wrk and curl
// cannot do alone:
//
//	oidcbench codes -issuer URL -client ID -user U -password P -n N -out FILE
//	    signs in to oidcd once and mints N authorization codes for the
//	    client (which must not need consent), one per line, for the
//	    code-exchange load (bench/code.lua hands out one per request).
//	oidcbench rsa -d 3s
//	    the RS256 signing ceiling: RSA-2048 PKCS #1 v1.5 signatures per
//	    second on every core (BenchmarkRSASignCeiling's measure, without
//	    compiling a test binary), printed as a number.
//	oidcbench start -url URL -ready URL2 [-log FILE] -- COMMAND ARGS...
//	    runs COMMAND, asks URL every millisecond until it answers 200, then
//	    URL2 likewise, and prints both times from the start in ms; then
//	    stops the command (SIGTERM) and waits for it. Start times without
//	    a shell's and curl's own start in them.
//	oidcbench rr -listen ADDR -to A,B,C
//	    a round-robin TCP balancer: each new connection goes to the next
//	    backend (used for the three-node figures when HAProxy is missing).
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("oidcbench: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: oidcbench codes|rsa|rr|start [flags]")
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "codes":
		err = codes(args)
	case "rsa":
		err = rsaCeiling(args)
	case "rr":
		err = roundRobin(args)
	case "start":
		err = startTime(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

func codes(args []string) error {
	fs := flag.NewFlagSet("codes", flag.ExitOnError)
	issuer := fs.String("issuer", "", "oidcd's issuer URL")
	client := fs.String("client", "", "client id (no consent needed)")
	redirect := fs.String("redirect-uri", "https://rp.example/cb", "the client's redirect URI")
	user := fs.String("user", "", "username")
	password := fs.String("password", "", "password")
	n := fs.Int("n", 1000, "how many codes")
	out := fs.String("out", "", "output file")
	workers := fs.Int("c", 8, "requests in flight")
	fs.Parse(args)
	if *issuer == "" || *client == "" || *user == "" || *out == "" {
		return errors.New("codes: -issuer, -client, -user and -out are required")
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{
		Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: *workers},
	}
	// Sign in once: the session cookie serves every authorization request.
	resp, err := hc.Get(*issuer + "/login?next=/")
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		return fmt.Errorf("login page (%d) has no csrf_token", resp.StatusCode)
	}
	resp, err = hc.PostForm(*issuer+"/login", url.Values{
		"csrf_token": {html.UnescapeString(string(m[1]))}, "username": {*user}, "password": {*password}, "next": {"/"},
	})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login answered %d", resp.StatusCode)
	}
	q := url.Values{"client_id": {*client}, "redirect_uri": {*redirect}, "response_type": {"code"},
		"scope": {"openid profile email"}, "nonce": {"n"}}
	authURL := *issuer + "/authorize?" + q.Encode()
	res := make([]string, *n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, *workers)
	for range *workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(res) {
					return
				}
				resp, err := hc.Get(authURL)
				if err != nil {
					errc <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc == nil || loc.Query().Get("code") == "" {
					errc <- fmt.Errorf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
					return
				}
				res[i] = loc.Query().Get("code")
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	return os.WriteFile(*out, []byte(strings.Join(res, "\n")+"\n"), 0o600)
}

func rsaCeiling(args []string) error {
	fs := flag.NewFlagSet("rsa", flag.ExitOnError)
	d := fs.Duration("d", 3*time.Second, "how long to sign")
	fs.Parse(args)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte("payload"))
	var n atomic.Int64
	deadline := time.Now().Add(*d)
	start := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, sum[:]); err != nil {
					panic(err)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("%.0f\n", float64(n.Load())/time.Since(start).Seconds())
	return nil
}

func startTime(args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	first := fs.String("url", "", "the URL whose first 200 marks the start")
	ready := fs.String("ready", "", "a second URL, asked after the first answers")
	logFile := fs.String("log", os.DevNull, "file the command's output is appended to")
	fs.Parse(args)
	if *first == "" || *ready == "" || fs.NArg() == 0 {
		return errors.New("start: -url, -ready and a command are required")
	}
	out, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	exited := make(chan error, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}()
	wait := func(u string) (time.Duration, error) {
		for deadline := t0.Add(30 * time.Second); time.Now().Before(deadline); {
			select {
			case err := <-exited:
				exited <- err
				return 0, fmt.Errorf("start: %s exited: %v", fs.Arg(0), err)
			default:
			}
			if resp, err := client.Get(u); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return time.Since(t0), nil
				}
			}
			time.Sleep(time.Millisecond)
		}
		return 0, fmt.Errorf("start: %s did not answer 200 within 30 s", u)
	}
	a, err := wait(*first)
	if err != nil {
		return err
	}
	b, err := wait(*ready)
	if err != nil {
		return err
	}
	fmt.Printf("%d %d\n", a.Milliseconds(), b.Milliseconds())
	return nil
}

func roundRobin(args []string) error {
	fs := flag.NewFlagSet("rr", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:8090", "listen address")
	to := fs.String("to", "", "backends, comma-separated host:port")
	fs.Parse(args)
	backends := strings.Split(*to, ",")
	if *to == "" {
		return errors.New("rr: -to is required")
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var next atomic.Uint64
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		b := backends[int(next.Add(1)-1)%len(backends)]
		go proxy(c, b)
	}
}

func proxy(c net.Conn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() {
		io.Copy(b, c) // splice(2) between the two sockets
		b.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, b)
	<-done
}
