package main

import (
	"os/exec"
	"strings"
	"testing"
)

// "go install github.com/oidcd/oidcd/cmd/oidcd@latest" needs the module
// path to be where the command lives.
func TestModulePath(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}} {{.Module.Path}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "github.com/oidcd/oidcd/cmd/oidcd main github.com/oidcd/oidcd" {
		t.Fatalf("go list: %s", got)
	}
}
