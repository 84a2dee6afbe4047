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
# fuzz FILE TARGET [FUZZTIME] runs one target of FILE's package for the fuzz
# time (a duration, or a number of inputs as "Nx").
fuzz() { go test "./$(dirname "$1")" -run '^$' -fuzz "^$2\$" -fuzztime "${3:-${OIDCD_TEST_FUZZTIME:-2s}}" -timeout 5m >"$out" 2>&1; }
for file in $(grep -rl --include='*_test.go' '^func Fuzz' --exclude-dir=node_modules . | sort); do
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | cut -c6-); do
		if ! fuzz "$file" "$target"; then
			cat "$out"
			# A failure the fuzzer found writes its input to testdata/fuzz.
			# Without one, the failure is Go 1.26's fuzzing engine: when a
			# -fuzztime duration ends while a worker is mid-input, it can
			# report "context deadline exceeded" (go.dev/issue/75804, fixed
			# in Go 1.27). The run is then repeated for as many inputs as it
			# tried, a count, which has no deadline to race; a target that
			# hangs fails on -timeout.
			if grep -q 'Failing input written' "$out"; then
				echo "FAIL fuzz $target"
				exit 1
			fi
			n=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | cut -d' ' -f2 || true)
			n=$((${n:-0} > 200 ? n : 200))
			echo "fuzz $target failed without a failing input: running it again for ${n} inputs"
			if ! fuzz "$file" "$target" "${n}x"; then
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
