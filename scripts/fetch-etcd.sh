#!/bin/sh
# Unpacks Debian's etcd 3.5 (the sid pool's etcd-server and etcd-client, the only 3.5 build the
# registries here offer) into .ci/etcd-<version>/usr/bin, without touching the system's apt state
# or its etcd 3.4: a private apt list of sid, `apt-get download`, `dpkg-deb -x`. The suites that
# run both etcd versions take it from there.
set -eu
version=${1:-3.5.30-2}
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.ci/etcd-${version%-*}"
[ -x "$dest/usr/bin/etcdutl" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$work/preferences"
cat >"$work/sources/sid.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
set -- -o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/sources" -o "Dir::State::Lists=$work/lists" \
  -o "Dir::Cache=$work/cache" -o "Dir::Etc::preferencesparts=$work/preferences" -o APT::Sandbox::User=root
apt-get "$@" update -qq
(cd "$work" && apt-get "$@" download -qq "etcd-server=$version" "etcd-client=$version")
mkdir -p "$dest.partial"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest.partial"; done
rm -rf "$dest" && mv "$dest.partial" "$dest"
"$dest/usr/bin/etcdutl" version | head -n 1
