#!/usr/bin/env bash
# Runs src/main.ts on a suitable Node.js, with the project's .env when there is one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/node-env.sh"
env_file=()
[ -f "$root/.env" ] && env_file=(--env-file="$root/.env")
exec node "${env_file[@]}" "$root/src/main.ts" "$@"
