#!/usr/bin/env bash
# Runs src/main.ts on a suitable Node.js, with the project's .env when there is
# one, in the caller's directory so relative paths are the caller's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/node-env.sh"
# `npm run threadbook` and `npm start` run this from the project's folder; npm
# says where the user was in INIT_CWD.
if [ "${npm_package_name:-}" = threadbook ] && [ -n "${INIT_CWD:-}" ] && [ -d "$INIT_CWD" ]; then
  case "${npm_lifecycle_event:-}" in threadbook|start) cd "$INIT_CWD" ;; esac
fi
env_file=()
[ -f "$root/.env" ] && env_file=(--env-file="$root/.env")
exec node "${env_file[@]}" "$root/src/main.ts" "$@"
