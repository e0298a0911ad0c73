// note_check verifies a C2SP signed note with Go's golang.org/x/mod/sumdb/note, an
// implementation independent of Gantral's: the interop test runs it on notes the sink
// produced. Usage: note_check VERIFIER_KEY NOTE_FILE [WITNESS_KEY...]. Prints the verified
// text and the names of the keys that signed; exits 1 (with note.Open's error) when it
// does not verify.
//
// WITNESS_KEY is a c2sp.org/tlog-cosignature verifier key (type 0x04). x/mod's
// note.NewVerifier knows only Ed25519 notes (type 0x01) and refuses it ("unknown verifier
// algorithm", printed to stderr), so cosignatureV1 below is a note.Verifier for the
// cosignature/v1 algorithm, written from the spec; note.Open then checks the witness's
// signature line with it like any other (a bad one is an InvalidSignatureError).
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

const algCosignatureV1 = 4

type cosignatureV1 struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (v *cosignatureV1) Name() string    { return v.name }
func (v *cosignatureV1) KeyHash() uint32 { return v.hash }

// Verify: sig is timestamp (8 bytes, big-endian) || Ed25519 signature over
// "cosignature/v1\ntime <timestamp>\n" || the note text.
func (v *cosignatureV1) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t >= 1<<63 {
		return false
	}
	var signed bytes.Buffer
	fmt.Fprintf(&signed, "cosignature/v1\ntime %d\n", t)
	signed.Write(msg)
	return ed25519.Verify(v.key, signed.Bytes(), sig[8:])
}

func newCosignatureV1(vkey string) (note.Verifier, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 || len(parts[1]) != 8 {
		return nil, errors.New("malformed witness key")
	}
	hash, err1 := strconv.ParseUint(parts[1], 16, 32)
	key, err2 := base64.StdEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, errors.New("malformed cosignature/v1 key")
	}
	material := append([]byte(parts[0]+"\n"), key...)
	sum := sha256.Sum256(material)
	if binary.BigEndian.Uint32(sum[:4]) != uint32(hash) {
		return nil, errors.New("witness key hash does not match its key")
	}
	return &cosignatureV1{parts[0], uint32(hash), ed25519.PublicKey(key[1:])}, nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: note_check VERIFIER_KEY NOTE_FILE [WITNESS_KEY...]")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(2)
	}
	verifiers := []note.Verifier{verifier}
	for _, vkey := range os.Args[3:] {
		if _, err := note.NewVerifier(vkey); err != nil {
			fmt.Fprintln(os.Stderr, "x/mod note.NewVerifier(witness key):", err)
		}
		witness, err := newCosignatureV1(vkey)
		if err != nil {
			fmt.Fprintln(os.Stderr, "witness key:", err)
			os.Exit(2)
		}
		verifiers = append(verifiers, witness)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifiers...))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	fmt.Print(n.Text)
	for _, sig := range n.Sigs {
		fmt.Printf("signed-by %s+%08x\n", sig.Name, sig.Hash)
	}
}
