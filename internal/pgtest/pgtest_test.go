package pgtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// unreachable is a PostgreSQL URL nothing answers: port 1 is privileged and
// never a database.
const unreachable = "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"

// TestUnreachableChild is run by TestUnreachable in a child process.
func TestUnreachableChild(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "1" {
		t.Skip("run by TestUnreachable")
	}
	NewDatabase(t, unreachable)
	t.Error("NewDatabase returned without a server")
}

// TestUnreachable: without PostgreSQL a test that needs it is skipped with
// the reason, except under CI=true, where it fails.
func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		ci   string
		want string
	}{
		{"", "--- SKIP: TestUnreachableChild"},
		{"false", "--- SKIP: TestUnreachableChild"},
		{"true", "--- FAIL: TestUnreachableChild"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestUnreachableChild$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "CI="+tc.ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "is unreachable (start it") {
			t.Errorf("CI=%q: want %q with the reason, got:\n%s", tc.ci, tc.want, out)
		}
	}
}
