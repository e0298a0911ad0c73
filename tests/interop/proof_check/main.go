// proof_check verifies Merkle proofs in the C2SP text formats with Go's
// golang.org/x/mod/sumdb/tlog and sumdb/note, implementations independent of Gantral's:
// the interop test runs it on proofs the audit API served.
//
//	proof_check inclusion VERIFIER_KEY EVENT_HASH_HEX TLOG_PROOF_FILE
//	  opens the proof's checkpoint with note.Open, computes the leaf with
//	  tlog.RecordHash(event hash) and checks the path with tlog.CheckRecord.
//	proof_check consistency OLD_SIZE OLD_ROOT_B64 NEW_SIZE NEW_ROOT_B64 PROOF_LINES_FILE
//	  checks tlog-witness proof lines with tlog.CheckTree.
//
// Prints "ok"; exits 1 with the failing check's error when a proof does not verify.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func fail(code int, format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

func hashLine(line string) tlog.Hash {
	raw, err := base64.StdEncoding.DecodeString(line)
	if err != nil || len(raw) != tlog.HashSize {
		fail(1, "bad hash line %q", line)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h
}

func inclusion(vkey, eventHex, path string) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail(2, "verifier key: %v", err)
	}
	event, err := hex.DecodeString(eventHex)
	if err != nil {
		fail(2, "event hash: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fail(2, "%v", err)
	}
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		fail(1, "tlog-proof: no empty line before the checkpoint")
	}
	lines := strings.Split(string(data[:i]), "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		fail(1, "tlog-proof: bad header %q", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		fail(1, "tlog-proof: no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil {
		fail(1, "tlog-proof: index: %v", err)
	}
	var proof tlog.RecordProof
	for _, line := range lines[1:] {
		proof = append(proof, hashLine(line))
	}
	n, err := note.Open(data[i+2:], note.VerifierList(verifier))
	if err != nil {
		fail(1, "note.Open: %v", err)
	}
	text := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(text[1], 10, 64)
	if err != nil {
		fail(1, "checkpoint size: %v", err)
	}
	root := hashLine(text[2])
	if err := tlog.CheckRecord(proof, size, root, index, tlog.RecordHash(event)); err != nil {
		fail(1, "tlog.CheckRecord: %v", err)
	}
	fmt.Println("ok")
}

func consistency(args []string) {
	oldSize, err1 := strconv.ParseInt(args[0], 10, 64)
	newSize, err2 := strconv.ParseInt(args[2], 10, 64)
	if err1 != nil || err2 != nil {
		fail(2, "sizes must be decimal")
	}
	data, err := os.ReadFile(args[4])
	if err != nil {
		fail(2, "%v", err)
	}
	var proof tlog.TreeProof
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line != "" {
			proof = append(proof, hashLine(line))
		}
	}
	err = tlog.CheckTree(proof, newSize, hashLine(args[3]), oldSize, hashLine(args[1]))
	if err != nil {
		fail(1, "tlog.CheckTree: %v", err)
	}
	fmt.Println("ok")
}

func main() {
	switch {
	case len(os.Args) == 5 && os.Args[1] == "inclusion":
		inclusion(os.Args[2], os.Args[3], os.Args[4])
	case len(os.Args) == 7 && os.Args[1] == "consistency":
		consistency(os.Args[2:])
	default:
		fail(2, "usage: proof_check inclusion VKEY EVENT_HASH_HEX FILE | consistency OLD_SIZE OLD_ROOT NEW_SIZE NEW_ROOT FILE")
	}
}
