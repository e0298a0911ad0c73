package gantral

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The module as a user gets it: a copy of this directory somewhere else, required by an
// empty program through a `replace` directive (as the README says), built with no module
// proxy (GOPROXY=off: the SDK needs nothing but the standard library), then run: one
// governed step against a scripted API.

const consumerGoMod = `module example.com/agent

go 1.19

require github.com/gantral/gantral/sdk/go v0.0.0

replace github.com/gantral/gantral/sdk/go => ../gantral-sdk-go
`

const consumerMain = `package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	gantral "github.com/gantral/gantral/sdk/go"
)

func main() {
	client := gantral.New(os.Getenv("GANTRAL_URL"), gantral.StaticToken("t0k"))
	var ran map[string]any
	err := client.GovernedStep(context.Background(), "inst-1", "deploy", gantral.StepOptions{
		Action: "deploy.run", Arguments: map[string]any{"service": "billing"},
	}, func(ctx context.Context, step *gantral.Step) error {
		ran = step.Arguments
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(ran)
}
`

func TestModuleBuildsFromACopyThroughReplace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program with the go command")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Fatalf("the go command is needed beside this toolchain: %v", err)
	}
	work := t.TempDir()
	sdk := filepath.Join(work, "gantral-sdk-go")
	copyTree(t, ".", sdk)
	app := filepath.Join(work, "agent")
	must(t, os.MkdirAll(app, 0o755))
	must(t, os.WriteFile(filepath.Join(app, "go.mod"), []byte(consumerGoMod), 0o644))
	must(t, os.WriteFile(filepath.Join(app, "main.go"), []byte(consumerMain), 0o644))

	binary := filepath.Join(work, "agent-bin")
	build := exec.Command(goBin, "build", "-o", binary, ".")
	build.Dir = app
	build.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build against the copy: %v\n%s", err, out)
	}

	g := grantFor(t, "deploy", "deploy.run", map[string]any{"service": "billing"})
	f := newFake(t, func(s seen, w http.ResponseWriter, i int) {
		if strings.HasSuffix(s.Path, "/authorize") {
			writeJSON(w, 200, &AuthorizeResult{Outcome: AuthorizeOutcomeAllow, StepID: "deploy", Grant: g})
			return
		}
		writeJSON(w, 200, map[string]any{"accepted": true, "state": "RUNNING"})
	})
	run := exec.CommandContext(context.Background(), binary)
	run.Env = append(os.Environ(), "GANTRAL_URL="+f.URL)
	out, err := run.Output()
	if err != nil {
		t.Fatalf("the program failed: %v", err)
	}
	var ran map[string]any
	if err := json.Unmarshal(out, &ran); err != nil || ran["service"] != "billing" {
		t.Fatalf("ran %s (%v)", out, err)
	}
	var kinds []string
	for _, c := range f.calls {
		if k, ok := c.Body["kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	if strings.Join(kinds, ",") != "STEP_STARTED,STEP_COMPLETED" || f.calls[0].Auth != "Bearer t0k" {
		t.Fatalf("calls %+v", f.calls)
	}
}

// copyTree copies the module's files (sources, go.mod, README, LICENSE), as a checkout
// or a vendored copy would have them.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(to, path)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
