package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in certFile/keyFile and picks up a
// renewed one without a restart: on SIGHUP (reload), and on a handshake
// when either file's modification time has changed (checked at most once
// a second). A renewal that does not load (a half-written pair, a key that
// does not match) is logged and the current certificate stays.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times the current cert was loaded at
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

// stampOf returns the modification times of both files.
func (r *certReloader) stampOf() string {
	var s string
	for _, f := range []string{r.certFile, r.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fi.ModTime().String() + fmt.Sprint(fi.Size()) + ";"
		}
	}
	return s
}

// load reads the pair; the caller holds mu or is the constructor.
func (r *certReloader) load() error {
	stamp := r.stampOf()
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("OIDCD_TLS_CERT/OIDCD_TLS_KEY: %w", err)
	}
	r.cert, r.stamp = &cert, stamp
	return nil
}

// reload re-reads the files now (SIGHUP).
func (r *certReloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checked = time.Now()
	if err := r.load(); err != nil {
		r.log.Error("TLS certificate reload failed; the current certificate stays", "err", err)
		return err
	}
	r.log.Info("TLS certificate loaded", "cert", r.certFile, "not_after", r.cert.Leaf.NotAfter)
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		if r.stampOf() != r.stamp {
			if err := r.load(); err != nil {
				r.log.Error("TLS certificate reload failed; the current certificate stays", "err", err)
				r.stamp = r.stampOf() // do not retry a broken pair on every handshake
			} else {
				r.log.Info("TLS certificate reloaded", "cert", r.certFile, "not_after", r.cert.Leaf.NotAfter)
			}
		}
	}
	if r.cert == nil {
		return nil, errors.New("no TLS certificate")
	}
	return r.cert, nil
}

// tlsConfig is the server's TLS configuration: TLS 1.2 at least (RFC 9325
// §4.1), Go's default cipher suites (AEAD, forward secrecy), the
// certificate from r.
func tlsConfig(r *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
}
