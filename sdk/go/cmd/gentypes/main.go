// Command gentypes writes types_gen.go from specs/openapi.json.
//
//	go run ./cmd/gentypes [-spec ../../specs/openapi.json] [-out types_gen.go]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gantral/gantral/sdk/go/internal/gentypes"
)

func main() {
	spec := flag.String("spec", "../../specs/openapi.json", "the OpenAPI document")
	out := flag.String("out", "types_gen.go", "the file to write")
	flag.Parse()
	data, err := os.ReadFile(*spec)
	if err == nil {
		data, err = gentypes.Generate(data)
	}
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentypes:", err)
		os.Exit(1)
	}
}
