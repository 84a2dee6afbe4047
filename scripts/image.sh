#!/usr/bin/env bash
# Builds what the Dockerfile copies into the image, then the image itself
# when a container engine answers (docker build -t "${IMAGE:-oidcd:dev}" .).
#   dist/rootfs/oidcd      static, CGO-free binary (-trimpath, stripped)
#   dist/rootfs/etc/...    CA certificates for outgoing https, passwd/group naming uid 65532
#   dist/data/             the empty /data volume (owned by 65532 in the image)
# With --rootfs-only it stops after dist/ (scripts/test-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

rm -rf dist
mkdir -p dist/rootfs/etc/ssl/certs dist/data
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags='-s -w' -o dist/rootfs/oidcd ./cmd/oidcd
cp /etc/ssl/certs/ca-certificates.crt dist/rootfs/etc/ssl/certs/ca-certificates.crt
printf 'root:x:0:0:root:/:/sbin/nologin\nnonroot:x:65532:65532:oidcd:/data:/sbin/nologin\n' >dist/rootfs/etc/passwd
printf 'root:x:0:\nnonroot:x:65532:\n' >dist/rootfs/etc/group
chmod 0755 dist/rootfs/oidcd
chmod 0700 dist/data

if [ "${1:-}" = "--rootfs-only" ]; then
	exit 0
fi
if docker info >/dev/null 2>&1; then
	docker build -t "${IMAGE:-oidcd:dev}" .
else
	echo "dist/ is ready; no container engine answers here, so the image itself was not built (run: docker build -t oidcd:dev .)" >&2
fi
