package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	bi, err := debug.ParseBuildInfo("path\tgithub.com/oidcd/oidcd/cmd/oidcd\nmod\tgithub.com/oidcd/oidcd\tv1.2.3\th1:abc=\n" +
		"build\tvcs=git\nbuild\tvcs.revision=0123456789abcdef0123456789abcdef01234567\nbuild\tvcs.time=2026-12-01T15:00:00Z\nbuild\tvcs.modified=true\n")
	if err != nil {
		t.Fatal(err)
	}
	bi.GoVersion = "go1.99.1"
	i := From(bi)
	want := Info{Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-12-01T15:00:00Z",
		Modified: true, GoVersion: "go1.99.1", Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if i != want {
		t.Fatalf("From = %+v\nwant %+v", i, want)
	}
	if s := i.String(); s != "v1.2.3 (commit 0123456789ab, 2026-12-01T15:00:00Z, modified) go1.99.1 "+want.Platform {
		t.Fatalf("String = %q", s)
	}
	if s := From(nil).String(); !strings.HasPrefix(s, "(unknown) "+runtime.Version()) {
		t.Fatalf("no build info: %q", s)
	}
}
