// note_check verifies a C2SP signed note with Go's golang.org/x/mod/sumdb/note, an
// implementation independent of Gantral's: the interop test runs it on notes the sink
// produced. Usage: note_check VERIFIER_KEY NOTE_FILE. Prints the verified text and the
// names of the keys that signed; exits 1 (with note.Open's error) when it does not verify.
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: note_check VERIFIER_KEY NOTE_FILE")
		os.Exit(2)
	}
	verifier, err := note.NewVerifier(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "verifier key:", err)
		os.Exit(2)
	}
	msg, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fmt.Fprintln(os.Stderr, "note.Open:", err)
		os.Exit(1)
	}
	fmt.Print(n.Text)
	for _, sig := range n.Sigs {
		fmt.Printf("signed-by %s+%08x\n", sig.Name, sig.Hash)
	}
}
