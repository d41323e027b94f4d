#!/usr/bin/env bash
# Builds the sandbox image, tagged by a hash of what goes into it, so a current
# image is reused and a changed Dockerfile or runner gets a new one.
#
# usage: sandbox/build.sh            build if missing, print the tag
#        sandbox/build.sh --tag      print the tag only
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo=threadbook-sandbox

# Same recipe as currentImageTag() in src/sandbox/docker/image.ts: sha256 over
# the Dockerfile, then each runtime/*.py in name order, its name and its bytes.
hash=$( { cat "$here/Dockerfile"; for file in $(cd "$here/runtime" && ls *.py | LC_ALL=C sort); do printf '%s\n' "$file"; cat "$here/runtime/$file"; done; } | sha256sum | cut -c1-16)
tag="$repo:$hash"
if [ "${1:-}" = "--tag" ]; then echo "$tag"; exit 0; fi

log() { printf 'threadbook: %s\n' "$*" >&2; }

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "sandbox image $tag is current"
  echo "$tag"; exit 0
fi

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim
  elif docker image inspect threadbook-base:bookworm >/dev/null 2>&1; then
    base=threadbook-base:bookworm
  elif timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim
  else
    log "no container registry answered; building the base image from Debian's packages"
    "$here/build-base.sh" threadbook-base:bookworm
    base=threadbook-base:bookworm
  fi
fi

# The bot's own image (deploy/Dockerfile) is built on the same base, under this name.
if [ "$base" != threadbook-base:bookworm ] && ! docker image inspect threadbook-base:bookworm >/dev/null 2>&1; then
  docker tag "$base" threadbook-base:bookworm
fi

log "building sandbox image $tag on $base (several minutes, once)"
docker build -q --build-arg "BASE_IMAGE=$base" -t "$tag" "$here" >&2
docker tag "$tag" "$repo:latest"
# Older builds go; one still used by a running session stays (rmi refuses it).
for old in $(docker images "$repo" --format '{{.Tag}}'); do
  case "$old" in "$hash"|latest|'<none>') ;; *) docker rmi "$repo:$old" >/dev/null 2>&1 || true ;; esac
done
log "sandbox image $tag ready"
echo "$tag"
