#!/bin/sh
# Rebuilds the django-oidc-provider fixture databases of the import tests.
# Run by hand, once; the tests only read what it writes:
#   <release>.sqlite3  the site's database (SQLite), made by the release itself
#   <release>.json     what the tests need that the database does not hold
#                      (plain passwords, client secrets, tokens received by
#                      relying parties, an ID token signed by the release)
#   media/<release>/   the site's MEDIA_ROOT (client logos)
#
# Needs Debian 12's packages (no PyPI on the build machine):
#   apt-get install python3-django python3-argon2 python3-bcrypt \
#       python3-pycryptodome python3-requests python3-six
# (Debian's python3-pycryptodome installs the "Cryptodome" package that
# pyjwkest and django-oidc-provider import), plus two source trees, never
# committed here:
#   DOP_SRC     a folder with one checkout per release tag, e.g.
#               git clone https://github.com/juanifioren/django-oidc-provider
#               then git archive v0.8.3 | tar -x -C $DOP_SRC/v0.8.3 (same for v0.6.2, v0.5.3)
#   PYJWKEST    a checkout of https://github.com/rohe/pyjwkest (its src/ folder
#               holds the "jwkest" package; the releases sign ID tokens with it)
#
# Usage: DOP_SRC=/tmp/dop PYJWKEST=/tmp/pyjwkest sh testdata/django/make_fixtures.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${DOP_SRC:?set DOP_SRC to the folder of release checkouts}"
: "${PYJWKEST:?set PYJWKEST to a pyjwkest checkout}"
PYTHON=${PYTHON:-/usr/bin/python3}
rm -rf "$here/media"
for release in ${RELEASES:-v0.8.3 v0.6.2 v0.5.3}; do
	rm -f "$here/$release.sqlite3" "$here/$release.json"
	PYTHONPATH="$DOP_SRC/$release:$PYJWKEST/src:$here" \
	DJANGO_SETTINGS_MODULE=settings \
	FIXTURE_RELEASE=$release \
	FIXTURE_DB="$here/$release.sqlite3" \
	FIXTURE_MEDIA="$here/media/$release" \
	FIXTURE_MANIFEST="$here/$release.json" \
		"$PYTHON" -W ignore "$here/make_fixtures.py"
done
