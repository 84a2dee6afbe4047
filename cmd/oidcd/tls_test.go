package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with this
// serial to cert.pem and key.pem in dir (through renames, as certificate
// tools do), and returns it.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "oidcd test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, b := range map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	} {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// servedSerial connects with TLS and returns the serial of the certificate
// served, checking it against pool.
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// OIDCD_TLS_CERT / OIDCD_TLS_KEY: https with TLS 1.2 at least, and a
// renewed certificate served without a restart (on SIGHUP, and on its own
// when the files change).
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, 1)
	pool := x509.NewCertPool()
	pool.AddCert(first)
	env := []string{"OIDCD_ADMIN_PASSWORD=hunter2hunter2", "OIDCD_ISSUER=https://127.0.0.1",
		"OIDCD_TLS_CERT=" + filepath.Join(dir, "cert.pem"), "OIDCD_TLS_KEY=" + filepath.Join(dir, "key.pem")}
	s := serve(t, dir, env)
	addr := strings.TrimPrefix(s.url, "http://")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("https: %d %+v", resp.StatusCode, resp.TLS)
	}
	// TLS 1.1 and older are refused; plain http gets no answer.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	if r, err := http.Get("http://" + addr + "/healthz"); err == nil && r.StatusCode == http.StatusOK {
		t.Fatal("plain http answered")
	}

	// Renewal, then SIGHUP: the new certificate at once.
	second := writeCert(t, dir, 2)
	pool.AddCert(second)
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for servedSerial(t, addr, pool) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP: still the old certificate\n%s", s.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Renewal without a signal: noticed from the files within a second or so.
	third := writeCert(t, dir, 3)
	pool.AddCert(third)
	deadline = time.Now().Add(5 * time.Second)
	for servedSerial(t, addr, pool) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("file change: still the old certificate\n%s", s.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A broken renewal keeps the current certificate.
	os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("garbage"), 0o600)
	s.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(1200 * time.Millisecond)
	if got := servedSerial(t, addr, pool); got != 3 {
		t.Fatalf("after a broken renewal: serial %d", got)
	}
	s.stop(t)
	if !strings.Contains(s.logs(), "TLS certificate reload failed; the current certificate stays") {
		t.Errorf("broken renewal not logged:\n%s", s.logs())
	}

	fails(t, dir, []string{"OIDCD_TLS_CERT=" + filepath.Join(dir, "cert.pem")}, "OIDCD_TLS_CERT and OIDCD_TLS_KEY go together", "serve", "--addr", "127.0.0.1:0")
	fails(t, dir, []string{"OIDCD_TLS_CERT=" + filepath.Join(dir, "cert.pem"), "OIDCD_TLS_KEY=" + filepath.Join(dir, "key.pem")}, "OIDCD_TLS_CERT/OIDCD_TLS_KEY", "serve", "--addr", "127.0.0.1:0")
}
