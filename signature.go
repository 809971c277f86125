package latchkey

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Signed documents: what the server tells a terminal's agent (its policy,
// each instruction) carries an ed25519 signature by the server's key in a
// top-level "signature" field, which the agent checks under the key it
// pinned before it believes a word of it.
//
// The signature covers a domain string, a newline, and the document's
// canonical form: its JSON with the top-level "signature" removed, every
// object's keys sorted, numbers as sent and strings re-escaped the way
// encoding/json writes them. The domain keeps a signature made for one
// kind of document from passing for another; the canonical form makes the
// check independent of key order, whitespace, and fields the agent does
// not know (they are covered all the same).

// Signature domains.
const (
	PolicyDomain      = "latchkey/v1 agent-policy"
	InstructionDomain = "latchkey/v1 instruction"
)

// ErrBadSignature is returned for a document that is unsigned or whose
// signature does not verify under the key given.
var ErrBadSignature = errors.New("signature does not verify under the pinned server key")

// ErrUnsigned is returned for a document without a signature.
var ErrUnsigned = errors.New("the document is not signed")

// CanonicalDocument returns the canonical form of a JSON object (see
// above) and its top-level "signature" string ("" if none).
func CanonicalDocument(doc []byte) (canonical []byte, signature string, err error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, "", fmt.Errorf("signed document: %w", err)
	}
	if m == nil {
		return nil, "", errors.New("signed document: not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, "", errors.New("signed document: data after the object")
	}
	if s, ok := m["signature"]; ok {
		if signature, ok = s.(string); !ok {
			return nil, "", errors.New("signed document: signature is not a string")
		}
		delete(m, "signature")
	}
	canonical, err = json.Marshal(m)
	return canonical, signature, err
}

func signedMessage(domain string, canonical []byte) []byte {
	msg := make([]byte, 0, len(domain)+1+len(canonical))
	msg = append(msg, domain...)
	msg = append(msg, '\n')
	return append(msg, canonical...)
}

// SignDocument signs v's JSON for domain and returns the signature
// (base64), to be sent in v's "signature" field.
func SignDocument(key ed25519.PrivateKey, domain string, v any) (string, error) {
	doc, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	canonical, _, err := CanonicalDocument(doc)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, signedMessage(domain, canonical))), nil
}

// VerifyDocument checks the signature in the JSON object doc under the
// public key (base64) for domain.
func VerifyDocument(publicKey, domain string, doc []byte) error {
	pub, err := ParsePublicKey(publicKey)
	if err != nil {
		return err
	}
	canonical, sig, err := CanonicalDocument(doc)
	if err != nil {
		return err
	}
	if sig == "" {
		return ErrUnsigned
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(pub, signedMessage(domain, canonical), raw) {
		return ErrBadSignature
	}
	return nil
}

// ParsePublicKey decodes an ed25519 public key given in base64 (as the
// server prints it).
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("server key %q is not an ed25519 public key in base64 (44 characters)", s)
	}
	return ed25519.PublicKey(b), nil
}

// PublicKeyText is a key's public half in base64, as the server prints it.
func PublicKeyText(key ed25519.PrivateKey) string {
	return base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
}

// documentOf is the JSON a signed value arrived as, or (made here, not
// received) its own encoding.
func documentOf(raw []byte, v any) ([]byte, error) {
	if len(raw) > 0 {
		return raw, nil
	}
	return json.Marshal(v)
}

// Sign signs the policy with the server's key: ServerKey names the key,
// Signature covers the whole document.
func (p *AgentPolicy) Sign(key ed25519.PrivateKey) error {
	p.ServerKey, p.Signature = PublicKeyText(key), ""
	sig, err := SignDocument(key, PolicyDomain, p)
	p.Signature = sig
	return err
}

// VerifySignature checks the policy's signature under publicKey: over the
// document as received (Raw) when there is one.
func (p *AgentPolicy) VerifySignature(publicKey string) error {
	doc, err := documentOf(p.Raw, p)
	if err != nil {
		return err
	}
	return VerifyDocument(publicKey, PolicyDomain, doc)
}

// Sign signs the instruction with the server's key.
func (in *Instruction) Sign(key ed25519.PrivateKey) error {
	in.Signature = ""
	sig, err := SignDocument(key, InstructionDomain, in)
	in.Signature = sig
	return err
}

// VerifySignature checks the instruction's signature under publicKey:
// over the document as received (Raw) when there is one.
func (in *Instruction) VerifySignature(publicKey string) error {
	doc, err := documentOf(in.Raw, in)
	if err != nil {
		return err
	}
	return VerifyDocument(publicKey, InstructionDomain, doc)
}
