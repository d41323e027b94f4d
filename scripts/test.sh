#!/usr/bin/env bash
# The test suite: sets up Node and dependencies, makes sure the sandbox image
# is current (built once, reused after), then typechecks and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
if ! docker info >/dev/null 2>&1; then
  echo "threadbook: the tests need a running Docker engine (docker info failed)" >&2
  exit 1
fi
bash sandbox/build.sh >/dev/null
npx tsc -p tsconfig.json
exec node --test --test-concurrency=1 --test-timeout=600000 "test/**/*.test.ts"
