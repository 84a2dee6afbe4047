#!/usr/bin/env bash
# Runs every test of oidcd: go mod tidy and gofmt checks, go vet, the Go suites (engine, storage conformance
# on SQLite and PostgreSQL, server, CLI), and the browser / openid-client
# end-to-end tests in e2e/. Needs PostgreSQL on 127.0.0.1:5432 (trust auth),
# Debian's chromium at /usr/bin/chromium and `npm ci` done in e2e/
# (`bash .ci/run` sets all of that up and then calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

echo "== go mod tidy (go.mod and go.sum must already be tidy)"
go mod tidy -diff
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/node_modules/*'))
if [ -n "$unformatted" ]; then echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test"
go test -count=1 -timeout 10m ./...
# The race detector on the code whose correctness is its concurrency: the
# token cache against revocations, and the group-commit batches (the whole
# suite under -race would take several times as long).
echo "== go test -race (token cache, group commit, PostgreSQL batches)"
go test -count=1 -race -run 'TestTokenCache|TestGroupCommit|TestSQLite$|TestWALRestart|TestPostgresGrantBatch|TestPostgresCodeBatch' ./storage/sqlstore
echo "== fuzz (each Fuzz target for ${OIDCD_TEST_FUZZTIME:-2s}; corpora in <package>/testdata/fuzz)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# fuzz FILE TARGET runs one target of FILE's package for the fuzz time.
fuzz() { go test "./$(dirname "$1")" -run '^$' -fuzz "^$2\$" -fuzztime "${OIDCD_TEST_FUZZTIME:-2s}" >"$out" 2>&1; }
for file in $(grep -rl --include='*_test.go' '^func Fuzz' --exclude-dir=node_modules . | sort); do
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -c6-); do
		if ! fuzz "$file" "$target"; then
			cat "$out"
			# A failure the fuzzer found writes its input to testdata/fuzz.
			# Without one, go test -fuzz can still exit non-zero when
			# -fuzztime ends while a worker is mid-input (Go's engine, not
			# the target): such a run is repeated once, and fails if it
			# fails again.
			if grep -q 'Failing input written' "$out"; then
				echo "FAIL fuzz $target"
				exit 1
			fi
			echo "fuzz $target failed without a failing input: running it again"
			if ! fuzz "$file" "$target"; then
				cat "$out"
				echo "FAIL fuzz $target"
				exit 1
			fi
		fi
		echo "ok   $target"
	done
done
echo "== container image build steps (scripts/test-image.sh; no container engine needed)"
./scripts/test-image.sh
echo "== e2e (openid-client, Chromium)"
(cd e2e && npm test)
