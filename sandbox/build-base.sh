#!/usr/bin/env bash
# Builds a minimal Debian base image from Debian's own packages with debootstrap,
# for machines that cannot reach a container registry. The mirror is read from
# this machine's apt sources; nothing here names a mirror host.
#
# usage: sandbox/build-base.sh [TAG]   (default threadbook-base:bookworm)
set -euo pipefail

tag="${1:-threadbook-base:bookworm}"
suite="${THREADBOOK_BASE_SUITE:-bookworm}"

log() { printf 'threadbook: %s\n' "$*" >&2; }

mirror_from_apt_sources() {
  local uri=""
  # deb822 sources first (Debian 12 default), then the one-line format.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    uri=$(awk 'tolower($1)=="uris:" { print $2; exit }' "$f")
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f" | grep -v -- '-security' | head -n1 || true)
      [ -n "$uri" ] && break
    done
  fi
  printf '%s' "$uri"
}

if [ "$(id -u)" != 0 ]; then
  log "building the base image needs root (debootstrap); run: sudo $0"
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi

mirror="${THREADBOOK_DEBIAN_MIRROR:-$(mirror_from_apt_sources)}"
if [ -z "$mirror" ]; then
  log "no Debian mirror found in /etc/apt/sources*; set THREADBOOK_DEBIAN_MIRROR"
  exit 1
fi

root=$(mktemp -d /var/tmp/threadbook-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap $suite (minbase) into $root"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >&2
# Inside the image, apt uses the same mirror, plus the suite's updates.
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror $suite main
deb $mirror $suite-updates main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
log "importing $tag"
tar -C "$root" -c . | docker import - "$tag" >/dev/null
log "base image $tag ready"
