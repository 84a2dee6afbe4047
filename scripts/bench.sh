#!/usr/bin/env bash
# Measures oidcd with wrk on loopback, as ratios to the ceilings of
# PRODUCT.md's performance targets: a minimal Go handler writing fixed JSON
# (bench/ceiling). Prints a Markdown table. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
DUR=${DUR:-5s}
CONNS=${CONNS:-64}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

go build -o "$tmp/oidcd" ./cmd/oidcd
go build -o "$tmp/ceiling" ./bench/ceiling

rps() { # url [lua] -> "requests/s p99"
	local out
	out=$(wrk -t1 -c"$CONNS" -d"$DUR" --latency ${2:+-s "$2"} "$1")
	local r p
	r=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p=$(awk '$1=="99%" {print $2}' <<<"$out")
	local non2xx
	non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
	[ -z "$non2xx" ] || { echo "non-2xx responses from $1: $non2xx" >&2; exit 1; }
	echo "$r $p"
}

db="$tmp/oidcd.db"
export OIDCD_DATABASE="sqlite:$db" OIDCD_ADDR=127.0.0.1:8098 OIDCD_ISSUER=http://127.0.0.1:8098 OIDCD_ADMIN_PASSWORD=bench-admin-pw OIDCD_LOG_LEVEL=error
# The password grant gives the benchmark a user token for userinfo; the
# audience check is off so the client may introspect its own tokens.
export OIDCD_GRANT_TYPE_PASSWORD_ENABLE=true OIDCD_INTROSPECTION_VALIDATE_AUDIENCE_SCOPE=false
start=$(date +%s%N)
"$tmp/oidcd" serve >"$tmp/serve.log" 2>&1 &
until curl -sf http://127.0.0.1:8098/.well-known/openid-configuration >/dev/null; do sleep 0.005; done
startup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
sleep 0.5
pid=$(pgrep -f "$tmp/oidcd serve" | head -n1)
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/"$pid"/status)

cc=$("$tmp/oidcd" clients create --json --name bench --scope "read token_introspection" --redirect-uri https://rp.example/cb)
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
id=$(json client_id <<<"$cc")
secret=$(json client_secret <<<"$cc")
auth=$(printf '%s:%s' "$id" "$secret" | base64 -w0)
"$tmp/oidcd" users create --username bench --password bench-user-pw --name "Bench User" --email bench@example.com >/dev/null
token=$(curl -sf -u "$id:$secret" -d grant_type=password -d username=bench -d password=bench-user-pw -d "scope=openid profile email" http://127.0.0.1:8098/token | json access_token)

# The ceiling writes the same bytes as discovery, so the ratio measures
# oidcd's own overhead, not the payload size.
curl -sf http://127.0.0.1:8098/.well-known/openid-configuration >"$tmp/discovery.json"
"$tmp/ceiling" -addr 127.0.0.1:8099 -body "$tmp/discovery.json" &
until curl -sf http://127.0.0.1:8099/ >/dev/null; do sleep 0.01; done
read -r ceil ceil_p99 < <(rps http://127.0.0.1:8099/)
row() { # name rps p99
	printf '| %s | %.0f | %s | %.0f%% |\n' "$1" "$2" "$3" "$(echo "$2 * 100 / $ceil" | bc -l)"
}
echo "| endpoint | requests/s | p99 | of ceiling |"
echo "|---|---|---|---|"
row "ceiling (minimal handler, same JSON as discovery)" "$ceil" "$ceil_p99"
read -r r p < <(rps http://127.0.0.1:8098/.well-known/openid-configuration); row discovery "$r" "$p"
read -r r p < <(rps http://127.0.0.1:8098/jwks); row jwks "$r" "$p"
read -r r p < <(BODY="grant_type=client_credentials" AUTH="$auth" rps http://127.0.0.1:8098/token bench/post.lua); row "token (client_credentials, SQLite)" "$r" "$p"
read -r r p < <(BODY="token=$token" AUTH="$auth" rps http://127.0.0.1:8098/introspect bench/post.lua); row "introspect" "$r" "$p"
read -r r p < <(BEARER="$token" rps http://127.0.0.1:8098/userinfo bench/post.lua); row "userinfo" "$r" "$p"
echo
echo "start to first discovery response: ${startup_ms} ms (includes first-key generation on an empty database); RSS after start: $((rss_kb / 1024)) MB"
