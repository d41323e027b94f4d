#!/usr/bin/env bash
# Runs a command with a Node.js of at least 22.18 first on PATH (see node-env.sh).
set -euo pipefail
. "$(dirname "$0")/node-env.sh"
exec "$@"
