#!/usr/bin/env bash
# Real MCP clients against the sandbox host: MCP Inspector CLI, Claude Code's
# CLI (registered with the README's own line) and Gemini CLI. Offline: no
# login, telemetry off, every client's HOME/config in a temp dir. Every step
# has a timeout and prints one "clients: ..." line; the first failure stops
# the script with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
started=$(date +%s)

INSPECTOR=@modelcontextprotocol/inspector@2.12.0
CLAUDE=@anthropic-ai/claude-code@2.1.332
GEMINI=@google/gemini-cli@0.61.0
NPM_PREFIX=${REMOTE_MCP_CI_NPM:-$HOME/.cache/remote-mcp-ci/npm}

say() { printf 'clients: %s\n' "$*"; }
fail() { printf 'clients: FAILED: %s\n' "$*" >&2; exit 1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  say "installing Node.js from the distribution's packages"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq || fail "apt-get update"
  timeout 600 apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
    fail "apt-get install nodejs npm"
fi
say "node $(node --version), npm $(npm --version)"

installed() {  # name@version already in the prefix?
  local name=${1%@*} version=${1##*@}
  grep -q "\"version\": \"$version\"" "$NPM_PREFIX/node_modules/$name/package.json" 2>/dev/null
}
mkdir -p "$NPM_PREFIX"
if installed "$INSPECTOR" && installed "$CLAUDE" && installed "$GEMINI"; then
  : # a CI cache or an earlier run already has the pinned versions
elif ! timeout 900 npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error \
  "$INSPECTOR" "$CLAUDE" "$GEMINI" >/dev/null; then
  fail "npm install $INSPECTOR $CLAUDE $GEMINI"
fi
BIN=$NPM_PREFIX/node_modules/.bin
say "installed $INSPECTOR $CLAUDE $GEMINI"

work=$(mktemp -d /tmp/remote-mcp-clients.XXXXXX)
export REMOTE_MCP_SANDBOX_DIR=$work/sandbox
cleanup() {
  python -c 'from remote_mcp.sandbox import stop_sandbox; stop_sandbox()' || true
  rm -rf "$work"
}
trap cleanup EXIT

# The clients see only this HOME: no user config, no credentials.
export HOME=$work/home
mkdir -p "$HOME"
export CLAUDE_CONFIG_DIR=$HOME/.claude CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
export DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1
export GEMINI_TELEMETRY_ENABLED=false DO_NOT_TRACK=1 NO_UPDATE_NOTIFIER=1

sandbox_config=$(timeout 60 python -c \
  'from remote_mcp.sandbox import ensure_sandbox; print(ensure_sandbox())') ||
  fail "could not start the sandbox sshd"
sandbox_pid=$(cut -d' ' -f1 "$REMOTE_MCP_SANDBOX_DIR/sshd.pid")
# The README's host is called myserver: the same sandbox under that name, at
# the default config path, so the README's line runs unchanged.
mkdir -p "$HOME/.config/remote-mcp"
sed -e 's/^  sandbox:$/  myserver:/' -e 's/^default_host: sandbox$/default_host: myserver/' \
  "$sandbox_config" >"$HOME/.config/remote-mcp/config.yaml"
sample=$work/sandbox/work/hello.txt
printf 'hello from the sandbox\n' >"$sample"
say "sandbox sshd pid $sandbox_pid, host myserver"

# The installed command, as add-host and sandbox print it in their lines.
installed=$(python -c 'import shlex; from remote_mcp.registration import server_command
print(shlex.join(server_command()))') || fail "cannot find the installed remote-mcp command"
read -r -a server <<<"$installed --host myserver"

# --- MCP Inspector CLI -------------------------------------------------------
# `--` before the server command: the Inspector's own --config would take ours.
inspect() { timeout 120 "$BIN/mcp-inspector" --cli "$@" -- "${server[@]}"; }
inspect --method tools/list >"$work/list.json" || fail "Inspector tools/list"
python - "$work/list.json" <<'EOF' || fail "Inspector tools/list lacks a tool (see above)"
import json, sys
names = {t["name"] for t in json.load(open(sys.argv[1]))["tools"]}
missing = {"Read", "Write", "Edit", "Bash", "Glob", "Grep", "MultiRead"} - names
print(f"clients: Inspector tools/list: {len(names)} tools", "missing " + str(missing) if missing else "")
sys.exit(1 if missing else 0)
EOF
inspect --method tools/call --tool-name Read --tool-arg "file_path=$sample" >"$work/read.json" ||
  fail "Inspector tools/call Read"
grep -q '1→hello from the sandbox' "$work/read.json" || fail "Read result: $(cat "$work/read.json")"
say "Inspector tools/call Read: ok"
inspect --method tools/call --tool-name Bash --tool-args-json '{"command": "echo $((6 * 7))"}' \
  >"$work/bash.json" || fail "Inspector tools/call Bash"
grep -q '"text": "42"' "$work/bash.json" || fail "Bash result: $(cat "$work/bash.json")"
say "Inspector tools/call Bash: ok"

# --- Claude Code CLI ---------------------------------------------------------
readme_line=$(grep -m1 '^claude mcp add ' README.md) || fail "no 'claude mcp add' line in README.md"
say "README line: $readme_line"
# The README shows where pipx puts the command (/home/you/.local/bin); a user
# runs the line with their own install's path, as add-host prints it.
line=${readme_line//\/home\/you\/.local\/bin\/remote-mcp/$installed}
[ "$line" = "$readme_line" ] || say "run as: $line"
(PATH=$BIN:$PATH timeout 60 bash -c "$line") >/dev/null || fail "the README's line failed"
# A deliberately broken registration: an interpreter path that does not exist.
timeout 60 "$BIN/claude" mcp add --scope user remote-broken -- "$work/no-venv/bin/python" \
  -m remote_mcp --host myserver >/dev/null || fail "claude mcp add remote-broken"
timeout 180 "$BIN/claude" mcp list >"$work/claude-list.txt" 2>&1 || fail "claude mcp list: $(cat "$work/claude-list.txt")"
sed 's/^/clients:   /' "$work/claude-list.txt"
grep -q '^remote-myserver: .*Connected' "$work/claude-list.txt" ||
  fail "claude mcp list does not show remote-myserver Connected"
grep -q '^remote-broken: .*Failed' "$work/claude-list.txt" ||
  fail "claude mcp list does not show remote-broken as failed"
say "Claude Code: remote-myserver Connected, remote-broken Failed"

# --- Gemini CLI --------------------------------------------------------------
mkdir -p "$HOME/.gemini"
cat >"$HOME/.gemini/settings.json" <<'EOF'
{"security": {"folderTrust": {"enabled": false}},
 "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false}}
EOF
(cd "$HOME" && timeout 60 "$BIN/gemini" mcp add -s user --timeout 60000 remote-myserver "${server[@]}") >/dev/null 2>&1 ||
  fail "gemini mcp add"
(cd "$HOME" && timeout 180 "$BIN/gemini" mcp list) >"$work/gemini-list.txt" 2>&1 ||
  fail "gemini mcp list: $(cat "$work/gemini-list.txt")"
grep -q 'remote-myserver: .*Connected' "$work/gemini-list.txt" ||
  fail "gemini mcp list does not show remote-myserver Connected: $(cat "$work/gemini-list.txt")"
say "Gemini CLI: remote-myserver Connected"

# --- No orphans --------------------------------------------------------------
# The clients stop their servers; neither a server process nor an sshd
# session may outlive them (polled: the clients' exits are asynchronous).
ours() {  # pids whose command line has $1 and whose HOME is this script's
  local pid
  for pid in $(pgrep -f -- "$1" || true); do
    [ "$pid" != "$$" ] && grep -qzx "HOME=$HOME" "/proc/$pid/environ" 2>/dev/null && echo "$pid"
  done
  return 0
}
deadline=$((SECONDS + 20))
while :; do
  servers=$(ours "--host myserver")
  sessions=$(pgrep -P "$sandbox_pid" || true)
  [ -z "$servers$sessions" ] && break
  [ $SECONDS -lt $deadline ] ||
    fail "left behind: servers [${servers//$'\n'/ }] sshd sessions [${sessions//$'\n'/ }]"
  sleep 0.5
done
say "no server process or sshd session left behind"
say "OK in $(($(date +%s) - started)) s"
