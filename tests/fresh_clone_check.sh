#!/usr/bin/env bash
# Issue 16's "from a fresh clone" check (not run by pytest: it builds a venv, minutes):
# clone this checkout's HEAD, `make run`, Ctrl-C, `make run` again -> the same key works,
# nothing left running, `git status` clean after both.  Usage: bash tests/fresh_clone_check.sh [PORT]
set -u
port="${1:-8742}"
src="$(cd "$(dirname "$0")/.." && pwd)"
workdir="$(mktemp -d)"
clone="$workdir/tidings"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$workdir"' EXIT   # KEEP=1 keeps the clone and logs
git clone -q "$src" "$clone" && cd "$clone" || exit 1
unset DATABASE_URL REDIS_URL CELERY_BROKER_URL TIDINGS_VAR_DIR TIDINGS_PORT
status=0
run() {
  log="$clone.run$1.log"
  setsid make run PORT="$port" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 900); do grep -q "export KEY=" "$log" && break; sleep 1; done
  key=$(grep -o "export KEY=.*" "$log" | head -n1 | cut -d= -f2)
  code=$(curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$port/api/v1/messages" -H "Authorization: Api-Key $key")
  echo "run $1: key ${key:0:12}… answers $code"
  [ "$code" = 200 ] || status=1
  kill -INT -- "-$pid"   # Ctrl-C to the whole process group, as a terminal does
  wait "$pid" 2>/dev/null
  sleep 2
  left=$(pgrep -f "$clone/.venv/bin/python" | wc -l)
  echo "run $1: processes left: $left"
  [ "$left" = 0 ] || status=1
  grep -q "No hostname was supplied" "$log" && { echo "run $1: kombu hostname warnings"; status=1; }
  echo "$key" >"$clone.key$1"
}
run 1
run 2
if [ "$(cat "$clone.key1")" = "$(cat "$clone.key2")" ]; then echo "same key: yes"; else echo "same key: NO"; status=1; fi
dirty=$(git status --porcelain --untracked-files=all)
if [ -z "$dirty" ]; then echo "git status: clean"; else echo "git status: DIRTY"; echo "$dirty"; status=1; fi
echo "ignored (not in git status): $(git status --porcelain --ignored | grep '^!!' | tr '\n' ' ')"
exit $status
