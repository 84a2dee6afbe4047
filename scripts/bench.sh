#!/usr/bin/env bash
# Measures oidcd beside the zitadel/oidc v3 example server (an in-memory
# provider) with the same wrk load, in one run, on loopback, and prints
# Markdown tables the README takes verbatim: requests/s and p99 per
# endpoint and connection count, the ratios of the performance targets,
# PostgreSQL on one node and three nodes behind a round-robin balancer,
# code exchange against the RS256 signing ceiling, first start and RSS.
#
#   scripts/bench.sh            full run: 10 s per point, 16/64/256 connections (~15 min)
#   scripts/bench.sh --quick    3 s per point, 64 connections only (~5 min with builds cached)
#
# Environment: DUR and CONNS override the duration and connection counts;
# BENCH_BASELINE=<git ref> also builds oidcd at that commit and measures its
# token issuance in the same run (before/after); OIDCD_BENCH_POSTGRES is the
# PostgreSQL administrative URL (default postgres://postgres@127.0.0.1:5432/
# postgres?sslmode=disable; the PostgreSQL rows are left out when it does
# not answer); ZITADEL_OIDC_VERSION picks the zitadel/oidc release (default
# pinned below). Needs go, wrk, curl, python3, psql; HAProxy when installed
# (the three-node balancer), else a Go TCP round-robin from bench/oidcbench.
# zitadel's example is built from the Go module proxy into the user's cache
# directory (~/.cache/oidcd-bench); nothing of it enters the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export PATH="$PATH:/usr/local/go/bin"

quick=${BENCH_QUICK:-}
[ "${1:-}" = "--quick" ] && quick=1
if [ -n "$quick" ]; then
	DUR=${DUR:-3s}
	CONNS=${CONNS:-64}
else
	DUR=${DUR:-10s}
	CONNS=${CONNS:-16 64 256}
fi
P99_CONNS=64 # the connection count whose p99 the targets name
ZV=${ZITADEL_OIDC_VERSION:-v3.52.0}
PG_ADMIN=${OIDCD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
SECRET=7d3f6c1a9b8e2d4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f
for tool in go wrk curl python3; do
	command -v "$tool" >/dev/null || { echo "bench.sh needs $tool" >&2; exit 1; }
done

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!e2e/node_modules' 2>/dev/null || echo "+uncommitted changes")
tmp=$(mktemp -d /tmp/oidcd-bench.XXXXXX)
pids=()
pgdb=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "$pgdb" ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
	if [ -n "${BENCH_KEEP:-}" ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
log() { echo "bench: $*" >&2; }

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
now_ns() { date +%s%N; }
# rss_mb PID: resident memory in MB, and how much of it is anonymous (the
# process's own) and file-backed (the binary's pages, shared and clean).
rss_mb() { awk '/VmRSS/ {r=$2} /RssAnon/ {a=$2} /RssFile/ {f=$2} END {printf "%.1f (anon %.1f, file %.1f)", r/1024, a/1024, f/1024}' /proc/"$1"/status; }
# waitup URL: wait until URL answers 200, up to 30 s.
waitup() {
	local i
	for i in $(seq 3000); do curl -sf -o /dev/null "$1" && return 0; sleep 0.01; done
	echo "bench: $1 did not come up" >&2; return 1
}

# --- builds -----------------------------------------------------------------
log "building oidcd, the ceiling and oidcbench"
# oidcd as it ships (scripts/image.sh): static, CGO-free, stripped.
shipped() { CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' "$@"; }
shipped -o "$tmp/oidcd" ./cmd/oidcd
go build -o "$tmp/ceiling" ./bench/ceiling
go build -o "$tmp/oidcbench" ./bench/oidcbench
base_bin=""
if [ -n "${BENCH_BASELINE:-}" ]; then
	log "building the baseline oidcd at $BENCH_BASELINE"
	mkdir "$tmp/base"
	git archive "$BENCH_BASELINE" | tar -x -C "$tmp/base"
	(cd "$tmp/base" && shipped -o "$tmp/oidcd-base" ./cmd/oidcd)
	base_bin="$tmp/oidcd-base"
	base_name=$(git rev-parse --short "$BENCH_BASELINE")
fi
# The example server is kept between runs in the user's cache directory
# (never in the repository): its build takes minutes on a busy machine.
zcache="${XDG_CACHE_HOME:-$HOME/.cache}/oidcd-bench/zitadel-oidc-$ZV"
zbin="$zcache/server"
if [ ! -x "$zbin" ]; then
	log "building the zitadel/oidc $ZV example server (Go module proxy, into $zcache)"
	mkdir -p "$tmp/zbuild" "$zcache"
	(cd "$tmp/zbuild" && GOFLAGS=-mod=mod GOBIN="$zcache" go install "github.com/zitadel/oidc/v3/example/server@$ZV")
fi

# --- measuring --------------------------------------------------------------
# point NAME URL CONNS [env...] -- runs wrk and prints "rps p99ms" (p99 in ms).
# Non-2xx answers or connection errors make the point "ERR" (the run goes
# on); requests slower than wrk's 10 s timeout are logged and counted in
# the p99 as wrk counts them.
# With PID set, also the server process's CPU time per request in µs (user
# and system, from /proc): a measure of work per request that holds when
# other processes share the cores, unlike requests per second.
clk_tck=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' /proc/"$1"/stat 2>/dev/null || echo 0; }
point() {
	local name=$1 url=$2 conns=$3 lua=$4 out r p unit c0=0 c1=0 n
	[ -n "${PID:-}" ] && c0=$(cputicks "$PID")
	out=$(wrk -t1 -c"$conns" -d"$DUR" --timeout 10s --latency ${lua:+-s "$lua"} "$url" 2>&1) || true
	[ -n "${PID:-}" ] && c1=$(cputicks "$PID")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "== $name c=$conns" >>"$tmp/wrk.log"
	echo "$out" >>"$tmp/wrk.log"
	if grep -q 'Non-2xx' <<<"$out" || grep -Eq 'Socket errors: connect [1-9]|read [1-9]|write [1-9]' <<<"$out"; then
		log "$name at $conns connections: $(grep 'Non-2xx\|Socket errors' <<<"$out" | tr -s ' ')"
		echo "ERR ERR -"
		return
	fi
	if grep -q 'Socket errors' <<<"$out"; then
		log "$name at $conns connections: $(grep 'Socket errors' <<<"$out" | tr -s ' ')"
	fi
	r=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
	p=$(awk '$1=="99%" {print $2}' <<<"$out")
	echo "$r $(python3 -c 'import re,sys; v,u=re.match(r"([\d.]+)(\w+)",sys.argv[1]).groups(); print("%.2f"%(float(v)*{"us":0.001,"ms":1,"s":1000,"m":60000}[u]))' "$p")" \
		"$(awk -v a="$c0" -v b="$c1" -v n="${n:-0}" -v hz="$clk_tck" -v on="${PID:+1}" 'BEGIN { if (on && n > 0) printf "%.0f", (b - a) / hz * 1e6 / n; else print "-" }')"
}
declare -A RPS P99 CPU
# measure KEY NAME URL CONNS LUA: stores RPS[KEY,CONNS], P99[KEY,CONNS] and
# (with PID set) CPU[KEY,CONNS].
measure() {
	local r p c
	read -r r p c < <(point "$2" "$3" "$4" "${5:-}")
	RPS[$1,$4]=$r
	P99[$1,$4]=$p
	CPU[$1,$4]=$c
	log "$2 c=$4: $r req/s, p99 $p ms, CPU $c µs/request"
}
ratio() { # a b -> a/b with two decimals, or "–"
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f\n", a / b; else print "–" }'
}

# --- zitadel ----------------------------------------------------------------
zport=$(freeport)
zurl="http://localhost:$zport"
# Start times come from oidcbench start (exec to the first 200, asked every
# millisecond), without a shell's and curl's own start-up in them.
read -r z_start_ms z_ready_ms < <("$tmp/oidcbench" start -log "$tmp/zitadel.log" -url "$zurl/.well-known/openid-configuration" \
	-ready "$zurl/keys" -- env PORT="$zport" REDIRECT_URI=http://127.0.0.1:9/cb "$zbin")
PORT=$zport REDIRECT_URI=http://127.0.0.1:9/cb "$zbin" >>"$tmp/zitadel.log" 2>&1 &
zpid=$!
pids+=("$zpid")
waitup "$zurl/.well-known/openid-configuration"
sleep 1
z_rss0=$(rss_mb "$zpid")
# A user's access token for introspection and userinfo: the code flow
# through the example's own login form (client web, user test-user@localhost).
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$zurl/auth?client_id=web&redirect_uri=http://127.0.0.1:9/cb&response_type=code&scope=openid%20profile%20email&state=s")
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -d "id=${loc##*authRequestID=}" -d username=test-user@localhost -d password=verysecure "$zurl/login/username")
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$loc")
zcode=$(python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")
ztoken=$(curl -sf -u web:secret -d grant_type=authorization_code -d "code=$zcode" -d redirect_uri=http://127.0.0.1:9/cb "$zurl/oauth/token" | json access_token)
curl -sf -u web:secret -d "token=$ztoken" "$zurl/oauth/introspect" | grep -q '"active":true' || { log "zitadel's introspection of its own token is not active"; exit 1; }
zauth=$(printf 'web:secret' | base64 -w0)
zcc=$(printf 'sid1:verysecret' | base64 -w0)

# --- oidcd on SQLite ----------------------------------------------------------
# oidcd_start BIN DIR PORT DATABASE: starts `oidcd serve`, sets SPID and
# START_MS (start to first discovery response).
oidcd_env() { # port database
	echo "OIDCD_DATABASE=$2 OIDCD_ADDR=127.0.0.1:$1 OIDCD_ISSUER=$ISSUER OIDCD_SECRET=$SECRET OIDCD_ADMIN_PASSWORD=bench-admin-pw OIDCD_LOG_LEVEL=error OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false ${EXTRA_ENV:-}"
}
oidcd_start() { # bin dir port database
	local t0
	t0=$(now_ns)
	(cd "$2" && exec env $(oidcd_env "$3" "$4") "$1" serve >>"$2/serve.log" 2>&1) &
	SPID=$!
	pids+=("$SPID")
	waitup "http://127.0.0.1:$3/.well-known/openid-configuration"
	START_MS=$((($(now_ns) - t0) / 1000000))
}
oidcd_cli() { # bin dir port database args...
	local bin=$1 dir=$2 port=$3 db=$4
	shift 4
	(cd "$dir" && env $(oidcd_env "$port" "$db") "$bin" "$@")
}
oidcd_stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# setup_clients BIN DIR PORT DB: registers the benchmark client and user on a
# running oidcd; sets AUTH, CID and UTOKEN (the user's access token, from a
# code flow).
setup_clients() {
	local cc secret
	cc=$(oidcd_cli "$@" clients create --json --name bench --scope "openid profile email read token_introspection" \
		--redirect-uri https://rp.example/cb --grant-type authorization_code --grant-type client_credentials --require-consent=false)
	CID=$(json client_id <<<"$cc")
	secret=$(json client_secret <<<"$cc")
	AUTH=$(printf '%s:%s' "$CID" "$secret" | base64 -w0)
	oidcd_cli "$@" users create --username bench --password bench-user-pw --name "Bench User" --email bench@example.com >/dev/null
	"$tmp/oidcbench" codes -issuer "http://127.0.0.1:$3" -client "$CID" -user bench -password bench-user-pw -n 1 -out "$tmp/code1.txt"
	UTOKEN=$(curl -sf -u "$CID:$secret" -d grant_type=authorization_code -d redirect_uri=https://rp.example/cb \
		-d "code=$(cat "$tmp/code1.txt")" "http://127.0.0.1:$3/token" | json access_token)
}

oport=$(freeport)
ISSUER="http://127.0.0.1:$oport"
odir="$tmp/sqlite"
mkdir "$odir"
# start_time BIN DIR PORT: one timed start of oidcd serve on DIR's database,
# stopped after; prints "to discovery" and "to /readyz 200" in ms. On a first
# start the RSA key is made while the server answers: /readyz waits for it.
start_time() {
	(cd "$2" && "$tmp/oidcbench" start -log "$2/serve.log" -url "http://127.0.0.1:$3/.well-known/openid-configuration" \
		-ready "http://127.0.0.1:$3/readyz" -- env $(oidcd_env "$3" "sqlite:$2/oidcd.db") "$1" serve)
}
# The first start's time varies with the RSA key's generation and the admin
# password's hash: five first starts on empty databases give its spread.
o_firsts="" o_first_readys=""
for i in 1 2 3 4 5; do
	mkdir "$tmp/first$i"
	read -r a b < <(start_time "$tmp/oidcd" "$tmp/first$i" "$oport")
	o_firsts="$o_firsts${o_firsts:+, }$a" o_first_readys="$o_first_readys${o_first_readys:+, }$b"
done
oidcd_start "$tmp/oidcd" "$odir" "$oport" "sqlite:$odir/oidcd.db"
sleep 1
o_rss0=$(rss_mb "$SPID")
oidcd_stop "$SPID"
read -r o_restart_ms o_restart_ready < <(start_time "$tmp/oidcd" "$odir" "$oport")
oidcd_start "$tmp/oidcd" "$odir" "$oport" "sqlite:$odir/oidcd.db"
opid=$SPID
sleep 1
o_rss_restart=$(rss_mb "$opid")
setup_clients "$tmp/oidcd" "$odir" "$oport" "sqlite:$odir/oidcd.db"
ourl="http://127.0.0.1:$oport"
oauth=$AUTH ocid=$CID otoken=$UTOKEN

# The minimal handler writing discovery's bytes (PRODUCT.md's ceiling).
curl -sf "$ourl/.well-known/openid-configuration" >"$tmp/discovery.json"
cport=$(freeport)
"$tmp/ceiling" -addr "127.0.0.1:$cport" -body "$tmp/discovery.json" &
cpid=$!
pids+=("$cpid")
waitup "http://127.0.0.1:$cport/"

# The same binary with stateless client_credentials tokens
# (OIDCD_STATELESS_CLIENT_CREDENTIALS): nothing written per token.
sport=$(freeport)
sdir="$tmp/stateless"
mkdir "$sdir"
EXTRA_ENV=OIDCD_STATELESS_CLIENT_CREDENTIALS=true ISSUER="http://127.0.0.1:$sport" oidcd_start "$tmp/oidcd" "$sdir" "$sport" "sqlite:$sdir/oidcd.db"
spid=$SPID
EXTRA_ENV=OIDCD_STATELESS_CLIENT_CREDENTIALS=true ISSUER="http://127.0.0.1:$sport" setup_clients "$tmp/oidcd" "$sdir" "$sport" "sqlite:$sdir/oidcd.db"
sauth=$AUTH
stoken=$(curl -sf -H "Authorization: Basic $sauth" -d grant_type=client_credentials -d scope=read "http://127.0.0.1:$sport/token" | json access_token)

if [ -n "$base_bin" ]; then
	bport=$(freeport)
	bdir="$tmp/base-sqlite"
	mkdir "$bdir"
	ISSUER="http://127.0.0.1:$bport" oidcd_start "$base_bin" "$bdir" "$bport" "sqlite:$bdir/oidcd.db"
	bpid=$SPID
	ISSUER="http://127.0.0.1:$bport" setup_clients "$base_bin" "$bdir" "$bport" "sqlite:$bdir/oidcd.db"
	bauth=$AUTH
fi

log "measuring: $DUR per point, connections: $CONNS"
for c in $CONNS; do
	PID=$cpid measure ceil "ceiling" "http://127.0.0.1:$cport/" "$c"
	PID=$zpid measure z.disc "zitadel discovery" "$zurl/.well-known/openid-configuration" "$c"
	PID=$opid measure o.disc "oidcd discovery" "$ourl/.well-known/openid-configuration" "$c"
	PID=$zpid measure z.jwks "zitadel jwks" "$zurl/keys" "$c"
	PID=$opid measure o.jwks "oidcd jwks" "$ourl/jwks" "$c"
	BODY="token=$ztoken" AUTH=$zauth PID=$zpid measure z.intro "zitadel introspect" "$zurl/oauth/introspect" "$c" bench/post.lua
	BODY="token=$otoken" AUTH=$oauth PID=$opid measure o.intro "oidcd introspect (SQLite)" "$ourl/introspect" "$c" bench/post.lua
	BEARER=$ztoken PID=$zpid measure z.ui "zitadel userinfo" "$zurl/userinfo" "$c" bench/post.lua
	BEARER=$otoken PID=$opid measure o.ui "oidcd userinfo (SQLite)" "$ourl/userinfo" "$c" bench/post.lua
	BODY="grant_type=client_credentials&scope=openid" AUTH=$zcc PID=$zpid measure z.cc "zitadel client_credentials" "$zurl/oauth/token" "$c" bench/post.lua
	BODY="grant_type=client_credentials&scope=read" AUTH=$oauth PID=$opid measure o.cc "oidcd client_credentials (SQLite)" "$ourl/token" "$c" bench/post.lua
	BODY="grant_type=client_credentials&scope=read" AUTH=$sauth PID=$spid measure s.cc "oidcd client_credentials (stateless tokens)" "http://127.0.0.1:$sport/token" "$c" bench/post.lua
	BODY="token=$stoken" AUTH=$sauth PID=$spid measure s.intro "oidcd introspect (stateless token)" "http://127.0.0.1:$sport/introspect" "$c" bench/post.lua
	if [ -n "$base_bin" ]; then
		BODY="grant_type=client_credentials&scope=read" AUTH=$bauth PID=$bpid measure b.cc "baseline $base_name client_credentials (SQLite)" "http://127.0.0.1:$bport/token" "$c" bench/post.lua
	fi
done

# Code exchange with an RS256 ID token against the signing ceiling, at
# P99_CONNS connections, with codes minted beforehand (enough for the run at
# the ceiling's rate).
dur_s=$(python3 -c 'import re,sys; v,u=re.match(r"(\d+)(\w*)",sys.argv[1]).groups(); print(int(v)*{"":1,"s":1,"m":60}[u])' "$DUR")
# The host's speed drifts by a tenth or more within a minute (the ceiling
# measured 1,550 and then 1,366 signatures/s around one exchange run), so
# the ceiling of each exchange run is measured just before and just after it,
# and the run is compared with their mean.
ncodes=$(python3 -c "print(int($("$tmp/oidcbench" rsa -d 1s) * $dur_s * 1.3) + 2000)")
declare -A CEIL CEILS
code_exchange() { # key name url auth cid [pid]
	local before after
	"$tmp/oidcbench" codes -issuer "$3" -client "$5" -user bench -password bench-user-pw -n "$ncodes" -out "$tmp/codes.txt"
	before=$("$tmp/oidcbench" rsa -d 3s)
	PID=${6:-} CODES="$tmp/codes.txt" AUTH=$4 REDIRECT=https%3A%2F%2Frp.example%2Fcb measure "$1" "$2" "$3/token" "$P99_CONNS" bench/code.lua
	after=$("$tmp/oidcbench" rsa -d 3s)
	CEIL[$1]=$(((before + after) / 2))
	CEILS[$1]="$before before, $after after"
	log "RS256 signing ceiling around $2: $before and $after signatures/s"
}
code_exchange o.code "oidcd code exchange RS256 (SQLite)" "$ourl" "$oauth" "$ocid" "$opid"
o_rss_after=$(rss_mb "$opid")
z_rss_after=$(rss_mb "$zpid")

# --- PostgreSQL: one node, then three behind a round-robin balancer -----------
pg=""
if command -v psql >/dev/null && psql -q "$PG_ADMIN" -c 'SELECT 1' >/dev/null 2>&1; then
	pg=1
	pgdb="oidcd_bench_$(date +%s)_$$"
	psql -q "$PG_ADMIN" -c "CREATE DATABASE $pgdb" >/dev/null
	pgurl=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$PG_ADMIN" "$pgdb")
	pg_settings=$(psql -qAt "$PG_ADMIN" -c "SELECT string_agg(name||'='||setting, ' ') FROM pg_settings WHERE name IN ('fsync','synchronous_commit','server_version')")
	ports=("$(freeport)" "$(freeport)" "$(freeport)")
	lbport=$(freeport)
	# Every node publishes the balancer's address as the issuer.
	ISSUER="http://127.0.0.1:$lbport"
	pdirs=()
	npids=()
	for i in 0 1 2; do
		pdirs+=("$tmp/pg$i")
		mkdir "${pdirs[$i]}"
		oidcd_start "$tmp/oidcd" "${pdirs[$i]}" "${ports[$i]}" "$pgurl"
		npids+=("$SPID")
		[ "$i" = 0 ] && setup_clients "$tmp/oidcd" "${pdirs[0]}" "${ports[0]}" "$pgurl"
	done
	pauth=$AUTH pcid=$CID ptoken=$UTOKEN
	n1="http://127.0.0.1:${ports[0]}"
	# balancer PORT BACKEND_PORTS...: HAProxy in TCP mode when installed, else oidcbench rr.
	balancer() {
		local port=$1
		shift
		if command -v haproxy >/dev/null; then
			{
				printf 'global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n'
				printf 'listen oidcd\n  bind 127.0.0.1:%s\n  balance roundrobin\n' "$port"
				for p in "$@"; do printf '  server n%s 127.0.0.1:%s\n' "$p" "$p"; done
			} >"$tmp/haproxy-$port.cfg"
			haproxy -f "$tmp/haproxy-$port.cfg" -db >>"$tmp/haproxy.log" 2>&1 &
			LB=haproxy
		else
			"$tmp/oidcbench" rr -listen "127.0.0.1:$port" -to "$(printf '127.0.0.1:%s,' "$@" | sed 's/,$//')" &
			LB="oidcbench rr (Go)"
		fi
		pids+=("$!")
		LBPID=$!
		waitup "http://127.0.0.1:$port/.well-known/openid-configuration"
	}
	if [ -n "$base_bin" ]; then
		bpgdb="${pgdb}_base"
		psql -q "$PG_ADMIN" -c "CREATE DATABASE $bpgdb" >/dev/null
		bpgurl=$(python3 -c 'import sys,urllib.parse as u; p=u.urlparse(sys.argv[1]); print(u.urlunparse(p._replace(path="/"+sys.argv[2])))' "$PG_ADMIN" "$bpgdb")
		bpport=$(freeport)
		mkdir "$tmp/base-pg"
		ISSUER="http://127.0.0.1:$bpport" oidcd_start "$base_bin" "$tmp/base-pg" "$bpport" "$bpgurl"
		bppid=$SPID
		ISSUER="http://127.0.0.1:$bpport" setup_clients "$base_bin" "$tmp/base-pg" "$bpport" "$bpgurl"
		bpauth=$AUTH
	fi
	# warm URL BODY [AUTH]: 2 s of load, not measured, before each configuration.
	# A node that has not served yet opens its pool in its first second (a
	# PostgreSQL backend per connection: 32 of them for nodes 1 and 2 in a
	# 3 s point, with a p99 over a second); measured points see the steady
	# state.
	warm() { AUTH=${3:-$pauth} BODY=$2 wrk -t1 -c64 -d2s -s bench/post.lua "$1" >/dev/null 2>&1 || true; }
	warm "$n1/token" "grant_type=client_credentials&scope=read"
	warm "$n1/introspect" "token=$ptoken"
	[ -n "$base_bin" ] && warm "http://127.0.0.1:$bpport/token" "grant_type=client_credentials&scope=read" "$bpauth"
	for c in $CONNS; do
		BODY="grant_type=client_credentials&scope=read" AUTH=$pauth PID=${npids[0]} measure p1.cc "oidcd client_credentials (PostgreSQL, one node)" "$n1/token" "$c" bench/post.lua
		BODY="token=$ptoken" AUTH=$pauth PID=${npids[0]} measure p1.intro "oidcd introspect (PostgreSQL, one node)" "$n1/introspect" "$c" bench/post.lua
		if [ -n "$base_bin" ]; then
			BODY="grant_type=client_credentials&scope=read" AUTH=$bpauth PID=$bppid measure bp.cc "baseline $base_name client_credentials (PostgreSQL)" "http://127.0.0.1:$bpport/token" "$c" bench/post.lua
		fi
	done
	if [ -n "$base_bin" ]; then
		oidcd_stop "$bppid"
		psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $bpgdb WITH (FORCE)" >/dev/null 2>&1 || true
	fi
	code_exchange p1.code "oidcd code exchange RS256 (PostgreSQL, one node)" "$n1" "$pauth" "$pcid" "${npids[0]}"
	# One node through the balancer (so the three-node ratio measures the
	# nodes, not the balancer), then all three.
	balancer "$lbport" "${ports[0]}"
	lb1=$LBPID
	warm "http://127.0.0.1:$lbport/token" "grant_type=client_credentials&scope=read"
	for c in $CONNS; do
		BODY="grant_type=client_credentials&scope=read" AUTH=$pauth measure lb1.cc "oidcd client_credentials (PostgreSQL, one node behind $LB)" "http://127.0.0.1:$lbport/token" "$c" bench/post.lua
	done
	kill "$lb1"
	wait "$lb1" 2>/dev/null || true
	balancer "$lbport" "${ports[@]}"
	warm "http://127.0.0.1:$lbport/token" "grant_type=client_credentials&scope=read"
	warm "http://127.0.0.1:$lbport/introspect" "token=$ptoken"
	for c in $CONNS; do
		BODY="grant_type=client_credentials&scope=read" AUTH=$pauth measure lb3.cc "oidcd client_credentials (PostgreSQL, three nodes behind $LB)" "http://127.0.0.1:$lbport/token" "$c" bench/post.lua
		BODY="token=$ptoken" AUTH=$pauth measure lb3.intro "oidcd introspect (PostgreSQL, three nodes behind $LB)" "http://127.0.0.1:$lbport/introspect" "$c" bench/post.lua
	done
else
	log "PostgreSQL at $PG_ADMIN does not answer: the PostgreSQL rows are left out"
fi

# --- report -------------------------------------------------------------------
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "### oidcd $commit beside zitadel/oidc $ZV's example server, $started"
echo
echo "Machine: $(nproc) cores ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); load average before the run: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "wrk -t1, $DUR per point, loopback; oidcd on a SQLite file (WAL) unless marked; ${pg:+PostgreSQL: $pg_settings.}"
echo
echo "| endpoint | connections | zitadel req/s | oidcd req/s | oidcd ÷ zitadel | zitadel p99 ms | oidcd p99 ms | zitadel CPU µs/req | oidcd CPU µs/req |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CONNS; do
	for e in disc:discovery jwks:JWKS intro:introspection ui:userinfo cc:"client_credentials token"; do
		k=${e%%:*} n=${e#*:}
		echo "| $n | $c | ${RPS[z.$k,$c]} | ${RPS[o.$k,$c]} | $(ratio "${RPS[o.$k,$c]}" "${RPS[z.$k,$c]}")× | ${P99[z.$k,$c]} | ${P99[o.$k,$c]} | ${CPU[z.$k,$c]} | ${CPU[o.$k,$c]} |"
	done
done
echo
echo "| measure | connections | req/s | p99 ms | oidcd CPU µs/req | ratio |"
echo "|---|---|---|---|---|---|"
for c in $CONNS; do
	echo "| ceiling: minimal Go handler, discovery's bytes | $c | ${RPS[ceil,$c]} | ${P99[ceil,$c]} | ${CPU[ceil,$c]:--} | discovery $(ratio "${RPS[o.disc,$c]}" "${RPS[ceil,$c]}"), JWKS $(ratio "${RPS[o.jwks,$c]}" "${RPS[ceil,$c]}"), token $(ratio "${RPS[o.cc,$c]}" "${RPS[ceil,$c]}") of it |"
	echo "| client_credentials, stateless tokens (\`OIDCD_STATELESS_CLIENT_CREDENTIALS\`, SQLite) | $c | ${RPS[s.cc,$c]} | ${P99[s.cc,$c]} | ${CPU[s.cc,$c]:--} | $(ratio "${RPS[s.cc,$c]}" "${RPS[z.cc,$c]}")× zitadel; $(ratio "${RPS[s.cc,$c]}" "${RPS[o.cc,$c]}")× stored tokens |"
	echo "| introspection of a stateless token | $c | ${RPS[s.intro,$c]} | ${P99[s.intro,$c]} | ${CPU[s.intro,$c]:--} | $(ratio "${RPS[s.intro,$c]}" "${RPS[z.intro,$c]}")× zitadel |"
	if [ -n "$base_bin" ]; then
		echo "| baseline $base_name: client_credentials, SQLite | $c | ${RPS[b.cc,$c]} | ${P99[b.cc,$c]} | ${CPU[b.cc,$c]:--} | this commit $(ratio "${RPS[o.cc,$c]}" "${RPS[b.cc,$c]}")× the baseline; baseline $(ratio "${RPS[b.cc,$c]}" "${RPS[z.cc,$c]}")× zitadel |"
	fi
	if [ -n "$pg" ]; then
		echo "| client_credentials, PostgreSQL, one node | $c | ${RPS[p1.cc,$c]} | ${P99[p1.cc,$c]} | ${CPU[p1.cc,$c]:--} | $(ratio "${RPS[p1.cc,$c]}" "${RPS[z.cc,$c]}")× zitadel |"
		if [ -n "$base_bin" ]; then
			echo "| baseline $base_name: client_credentials, PostgreSQL | $c | ${RPS[bp.cc,$c]} | ${P99[bp.cc,$c]} | ${CPU[bp.cc,$c]:--} | this commit $(ratio "${RPS[p1.cc,$c]}" "${RPS[bp.cc,$c]}")× the baseline; baseline $(ratio "${RPS[bp.cc,$c]}" "${RPS[z.cc,$c]}")× zitadel |"
		fi
		echo "| introspection, PostgreSQL, one node | $c | ${RPS[p1.intro,$c]} | ${P99[p1.intro,$c]} | ${CPU[p1.intro,$c]:--} | $(ratio "${RPS[p1.intro,$c]}" "${RPS[z.intro,$c]}")× zitadel |"
		echo "| client_credentials, PostgreSQL, one node behind $LB | $c | ${RPS[lb1.cc,$c]} | ${P99[lb1.cc,$c]} | ${CPU[lb1.cc,$c]:--} | |"
		echo "| client_credentials, PostgreSQL, three nodes behind $LB | $c | ${RPS[lb3.cc,$c]} | ${P99[lb3.cc,$c]} | ${CPU[lb3.cc,$c]:--} | $(ratio "${RPS[lb3.cc,$c]}" "${RPS[lb1.cc,$c]}")× one node behind it; $(ratio "${RPS[lb3.cc,$c]}" "${RPS[z.cc,$c]}")× zitadel |"
		echo "| introspection, PostgreSQL, three nodes behind $LB | $c | ${RPS[lb3.intro,$c]} | ${P99[lb3.intro,$c]} | ${CPU[lb3.intro,$c]:--} | |"
	fi
done
echo "| code exchange, RS256 ID token, SQLite | $P99_CONNS | ${RPS[o.code,$P99_CONNS]} | ${P99[o.code,$P99_CONNS]} | ${CPU[o.code,$P99_CONNS]:--} | $(ratio "${RPS[o.code,$P99_CONNS]}" "${CEIL[o.code]}") of the RS256 signing ceiling (${CEIL[o.code]} signatures/s on $(nproc) cores: ${CEILS[o.code]} the run) |"
if [ -n "$pg" ]; then
	echo "| code exchange, RS256 ID token, PostgreSQL, one node | $P99_CONNS | ${RPS[p1.code,$P99_CONNS]} | ${P99[p1.code,$P99_CONNS]} | ${CPU[p1.code,$P99_CONNS]:--} | $(ratio "${RPS[p1.code,$P99_CONNS]}" "${CEIL[p1.code]}") of the signing ceiling (${CEILS[p1.code]} the run) |"
fi
echo
worst=$(for k in o.disc o.jwks o.intro o.ui o.cc o.code; do echo "${P99[$k,$P99_CONNS]} $k"; done | sort -g | tail -n1)
echo "Worst oidcd p99 at $P99_CONNS connections (SQLite): ${worst% *} ms (${worst#* })."
echo "Start, from exec to the first 200 of discovery (asked every ms by oidcbench start); first starts are on an empty database (schema, admin account, RSA key): oidcd first starts $o_firsts ms (/readyz 200, the key made: $o_first_readys ms); oidcd restart $o_restart_ms ms (/readyz $o_restart_ready ms); zitadel $z_start_ms ms (its JWKS $z_ready_ms ms)."
echo "RSS in MB: oidcd idle after first start $o_rss0, after restart $o_rss_restart, after the SQLite run $o_rss_after; zitadel idle $z_rss0, after the run $z_rss_after."
echo
echo "bench: wrk's full output is in $tmp/wrk.log (kept with BENCH_KEEP=1)" >&2
