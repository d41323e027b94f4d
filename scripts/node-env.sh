# Sourced, not run: puts a Node.js of at least 22.18 first on PATH.
# Where the machine's own node is older, the npm registry's node-linux-<arch>
# package (which ships the binary, no install script) goes into .tools/node.
_tb_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_tb_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)' 2>/dev/null
}
_tb_local="$_tb_root/.tools/node/node_modules"
if [ -d "$_tb_local" ]; then
  for _tb_bin in "$_tb_local"/node-linux-*/bin; do
    [ -x "$_tb_bin/node" ] && PATH="$_tb_bin:$PATH"
  done
fi
if ! _tb_node_ok; then
  case "$(uname -m)" in
    x86_64) _tb_arch=x64 ;; aarch64|arm64) _tb_arch=arm64 ;; *) _tb_arch="" ;;
  esac
  # A bare Debian has no npm to fetch Node.js with: Debian's own npm (with its nodejs) does, installed with apt-get as root or through sudo.
  if [ -n "$_tb_arch" ] && ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then _tb_root_cmd=(); elif command -v sudo >/dev/null 2>&1; then _tb_root_cmd=(sudo); else _tb_root_cmd=(none); fi
    if [ "${_tb_root_cmd[0]:-}" != none ]; then
      echo "threadbook: npm is missing; installing Debian's nodejs and npm with ${_tb_root_cmd[0]:+sudo }apt-get, to fetch Node.js 24 with" >&2
      { "${_tb_root_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        "${_tb_root_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates >/dev/null; } >&2 ||
        echo "threadbook: installing Debian's npm failed" >&2
    fi
    unset _tb_root_cmd
  fi
  if [ -z "$_tb_arch" ] || ! command -v npm >/dev/null 2>&1; then
    echo "threadbook: needs Node.js 22.18 or newer (and npm to fetch it: as root, apt-get install npm); found $(node --version 2>/dev/null || echo none)" >&2
    return 1 2>/dev/null || exit 1
  fi
  echo "threadbook: installing Node.js 24 into .tools/node (the machine has $(node --version 2>/dev/null || echo none))" >&2
  mkdir -p "$_tb_root/.tools/node"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund \
    --prefix "$_tb_root/.tools/node" "node-linux-$_tb_arch@24" >&2 || { echo "threadbook: could not install Node.js 24 from the npm registry" >&2; return 1 2>/dev/null || exit 1; }
  PATH="$_tb_local/node-linux-$_tb_arch/bin:$PATH"
fi
export PATH
unset _tb_root _tb_local _tb_bin _tb_arch
