#!/usr/bin/env bash
# Tests the container image's build steps without a container engine: the
# same commands scripts/image.sh runs for the Dockerfile, then checks that
# the binary is static, that it serves from an empty /data as the image's
# unprivileged user (uid 65532, no capabilities), and that its HEALTHCHECK
# command passes. Needs root (to drop to uid 65532 with setpriv).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

./scripts/image.sh --rootfs-only
bin=dist/rootfs/oidcd

# Static: no ELF interpreter, no shared libraries.
file "$bin" | grep -q 'statically linked' || { file "$bin"; echo "oidcd is not statically linked" >&2; exit 1; }
if command -v readelf >/dev/null && readelf -l "$bin" | grep -q INTERP; then echo "oidcd has an ELF interpreter" >&2; exit 1; fi
"$bin" version

# What the Dockerfile says must match what is tested here.
grep -qx 'FROM scratch' Dockerfile
grep -qx 'USER 65532:65532' Dockerfile
grep -q 'HEALTHCHECK .*CMD \["/oidcd", "healthcheck"\]' Dockerfile
grep -q 'OIDCD_DATABASE=sqlite:/data/oidcd.db' Dockerfile

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	echo "test-image: not root or no setpriv: the unprivileged run was not tested" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp -a dist/rootfs "$tmp/root"
mkdir -m 0700 "$tmp/root/data"
chown 65532:65532 "$tmp/root/data"
chmod 0755 "$tmp" "$tmp/root"
nonroot=("$(command -v setpriv)" --reuid=65532 --regid=65532 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs)

cd "$tmp/root/data"
env -i OIDCD_ADDR=127.0.0.1:0 OIDCD_DATABASE=sqlite:"$tmp/root/data/oidcd.db" OIDCD_LOG_FORMAT=json \
	"${nonroot[@]}" "$tmp/root/oidcd" serve >"$tmp/stdout" 2>"$tmp/stderr" &
pid=$!
addr=
for _ in $(seq 1 100); do
	addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$tmp/stderr" | head -n1)
	[ -n "$addr" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$tmp/stderr"; echo "oidcd serve exited as uid 65532" >&2; exit 1; }
	sleep 0.1
done
[ -n "$addr" ] || { cat "$tmp/stderr"; echo "oidcd serve did not start" >&2; exit 1; }
# Ready once the first start's signing key and admin account exist (made
# while the server already answers): retried, as the image's HEALTHCHECK is.
ready=
for _ in $(seq 1 100); do
	if env -i "${nonroot[@]}" "$tmp/root/oidcd" healthcheck --url "http://$addr/readyz" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
[ -n "$ready" ] || { cat "$tmp/stderr"; echo "oidcd serve did not become ready" >&2; exit 1; }
env -i OIDCD_ADDR="$addr" "${nonroot[@]}" "$tmp/root/oidcd" healthcheck
grep -q 'created admin user "admin" with password' "$tmp/stdout"
# Everything the server created belongs to the unprivileged user, mode 0600.
for f in oidcd.db oidcd.db.secret; do
	[ "$(stat -c '%u %a' "$tmp/root/data/$f")" = "65532 600" ] || { stat "$tmp/root/data/$f"; exit 1; }
done
kill -TERM "$pid"
wait "$pid"
grep -q '"msg":"stopped"' "$tmp/stderr"
echo "test-image: static binary, serves as uid 65532 without capabilities, health check passes"
