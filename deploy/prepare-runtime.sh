#!/usr/bin/env bash
# Run inside deploy/Dockerfile's first stage: puts Node.js 24 at
# /opt/node/bin/node and the production dependencies in ./node_modules.
# Where ./threadbook has run, both come from what it prepared (copied in from
# .tools/ and node_modules/); otherwise Debian's npm fetches them.
set -euo pipefail
log() { printf 'threadbook image: %s\n' "$*" >&2; }

# Only there so the Dockerfile's COPY always has a source.
rm -f node_modules/package.json tools/package.json

case "$(dpkg --print-architecture)" in
  amd64) arch=x64 ;; arm64) arch=arm64 ;;
  *) log "no Node.js 24 package for $(dpkg --print-architecture)"; exit 1 ;;
esac
node="tools/node/node_modules/node-linux-$arch/bin/node"
prepared_modules=false
[ -f node_modules/.package-lock.json ] && prepared_modules=true

if [ ! -x "$node" ] || [ "$prepared_modules" = false ]; then
  log "fetching what ./threadbook did not prepare here, with Debian's npm"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm ca-certificates >/dev/null
fi
if [ ! -x "$node" ]; then
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix tools/node "node-linux-$arch@24"
fi
mkdir -p /opt/node/bin
cp "$node" /opt/node/bin/node
/opt/node/bin/node --version >&2

if [ "$prepared_modules" = true ]; then
  log "using the dependencies ./threadbook installed, development ones removed"
  /opt/node/bin/node prune-dev-dependencies.mjs
else
  rm -rf node_modules
  npm ci --omit=dev --silent --no-audit --no-fund
fi
