package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// tlsFlags are serve's --tls-cert and --tls-key.
type tlsFlags struct {
	cert, key string
}

// addFlags defines --tls-cert and --tls-key on fs, into f, with f's values
// as their defaults.
func (f *tlsFlags) addFlags(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "tls-cert", f.cert, "serve HTTPS with the PEM certificate (chain) in `FILE`; reread on SIGHUP")
	fs.StringVar(&f.key, "tls-key", f.key, "the PEM private key of --tls-cert in `FILE`; reread on SIGHUP")
}

// check returns a usage problem, or "".
func (f *tlsFlags) check() string {
	if (f.cert == "") != (f.key == "") {
		return "--tls-cert and --tls-key go together"
	}
	return ""
}

func (f *tlsFlags) enabled() bool { return f.cert != "" }

// certStore holds the server's certificate pair and swaps it atomically
// when the files are reread: handshakes in progress keep the pair they
// started with, new ones get the new pair.
type certStore struct {
	certFile, keyFile string
	now               func() time.Time
	cur               atomic.Pointer[tls.Certificate]
}

// loadCertStore reads the pair; a missing, unreadable, mismatched or
// expired pair is an error.
func loadCertStore(certFile, keyFile string) (*certStore, error) {
	s := &certStore{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// reload rereads the pair. On any error the pair in use stays.
func (s *certStore) reload() error {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("certificate %s, key %s: %w", s.certFile, s.keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("certificate %s: %w", s.certFile, err)
		}
		pair.Leaf = leaf
	}
	now := s.now()
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("certificate %s expired at %s", s.certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("certificate %s is not valid before %s", s.certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	s.cur.Store(&pair)
	return nil
}

// leaf returns the certificate in use.
func (s *certStore) leaf() *x509.Certificate { return s.cur.Load().Leaf }

// config returns the server's TLS configuration: TLS 1.2 at least, the
// current pair for every handshake.
func (s *certStore) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load(), nil
		},
	}
}

// reloadOnHangup rereads the pair on every SIGHUP until ctx ends, logging
// the new certificate or why the old one stays. It starts listening for
// the signal before it returns.
func (s *certStore) reloadOnHangup(ctx context.Context, log *slog.Logger) {
	onHangup(ctx, func() {
		if err := s.reload(); err != nil {
			log.Error("SIGHUP: new TLS certificate refused; keeping the one in use", "err", err,
				"serial", s.leaf().SerialNumber.String())
			return
		}
		l := s.leaf()
		log.Info("SIGHUP: TLS certificate reloaded", "serial", l.SerialNumber.String(),
			"subject", l.Subject.String(), "not_after", l.NotAfter.UTC())
	})
}

// ignoreHangup keeps SIGHUP (which would end the process) from stopping a
// server without TLS, where there is nothing to reread: it logs that and
// goes on, so a service manager's reload cannot kill it undrained.
func ignoreHangup(ctx context.Context, log *slog.Logger) {
	onHangup(ctx, func() { log.Info("SIGHUP: nothing to reload (serving without TLS); carrying on") })
}

// onHangup calls fn on every SIGHUP until ctx ends; it listens for the
// signal before it returns.
func onHangup(ctx context.Context, fn func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				fn()
			}
		}
	}()
}

// warnPlainHTTP logs a warning when a plain-HTTP server listens on an
// address other machines can reach.
func warnPlainHTTP(log *slog.Logger, addr net.Addr) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return
	}
	log.Warn("serving plain HTTP on an address other machines can reach: tokens and passwords cross the network in clear text; "+
		"start with --tls-cert and --tls-key (docs/security.md, TLS and keys)", "addr", addr.String())
}
