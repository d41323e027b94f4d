# Sourced: Node first on PATH, dependencies installed when package-lock.json changed.
. "$(dirname "${BASH_SOURCE[0]}")/node-env.sh" || return 1
_tb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -f "$_tb_root/node_modules/.package-lock.json" ] || [ "$_tb_root/package-lock.json" -nt "$_tb_root/node_modules/.package-lock.json" ]; then
  echo "threadbook: installing dependencies" >&2
  (cd "$_tb_root" && npm ci --silent --no-audit --no-fund >&2) || { echo "threadbook: npm ci failed" >&2; return 1; }
fi
unset _tb_root
