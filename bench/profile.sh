#!/usr/bin/env bash
# Where `buzon serve` spends its time in the heaviest scenarios: `perf record -g` on the
# server process while the load generator (`buzon bench`) runs one scenario against it.
#
#   bench/profile.sh [--server BINARY] [--label NAME] [SCENARIO...]
#
# SCENARIO is one or more of:
#   plainbox-first  first login (STAT+LIST+UIDL) to the 100,000-message mailbox whose file
#                   names carry no sizes, with no index and nothing in memory (a server
#                   just started, as bench/compare.sh measures it)
#   busy            later logins to that mailbox while a message arrives every second
#   top0            TOP n 0 on the four big mailboxes, 4 clients, 5 s
# (default: all three). --server profiles another build (e.g. an older commit's
# target/release/buzon); the load generator is always this tree's release build.
# Reports go to $BENCH_DIR/profiles/SCENARIO-NAME.txt: the symbols above 1 % of the
# server's samples (self time) and the user/kernel split. Uses the corpus bench/compare.sh
# made ($BENCH_DIR/corpus-full, or corpus-smoke with BENCH_MODE=smoke).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"
W=${BENCH_DIR:-/tmp/buzon-bench}
CORPUS="$W/corpus-${BENCH_MODE:-full}"
CLIENT="${CARGO_TARGET_DIR:-$ROOT/target}/release/buzon"
SERVER=$CLIENT
LABEL=""
SCENARIOS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) SERVER=$2; shift 2 ;;
    --label) LABEL=$2; shift 2 ;;
    plainbox-first|busy|top0) SCENARIOS+=("$1"); shift ;;
    *) echo "profile.sh: unknown argument $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(plainbox-first busy top0)
[ -n "$LABEL" ] || LABEL=$("$SERVER" --version | tr ' ' '-')
command -v perf >/dev/null || { echo "profile.sh: perf is missing (apt-get install linux-perf)" >&2; exit 1; }
[ -f "$CORPUS/CORPUS" ] || { echo "profile.sh: no corpus in $CORPUS; run bench/compare.sh first" >&2; exit 1; }
[ -x "$CLIENT" ] || cargo build --release -p buzon
export BUZON_BENCH_PASSWORD=bench-password
OUT="$W/profiles"
P="$W/profile-server"
mkdir -p "$OUT"
POP3=26110; POP3S=26995; LMTP=26024
TARGET=(--target "127.0.0.1:$POP3" --ca "$CORPUS/tls/ca.pem")

PID=""
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=""; }
trap stop EXIT

start() { # a fresh copy of the corpus, nothing in memory, no index
  stop
  rm -rf "$P"; mkdir -p "$P/data"
  cp -al "$CORPUS/mail" "$P/mail"
  for box in bigbox plainbox; do touch "$P/mail/$box/cur"; done
  write_buzon_config "$P" "$POP3" "$POP3S" "$LMTP"
  RUST_LOG=warn "$SERVER" serve --config "$P/buzon.toml" > "$P/serve.log" 2>&1 &
  PID=$!
  wait_port "$POP3"
  # The TOP users once, so the auth cache holds them (a first login's Argon2 is part of
  # it); then the mailboxes rest so that a first login meets a quiet directory.
  "$CLIENT" bench login "${TARGET[@]}" --users 'big{1..4}' --clients 1 --count 4 > /dev/null
  sleep 3
}

# record SCENARIO COMMAND...: perf on the server while COMMAND runs, then the report.
record() {
  local name=$1; shift
  local data="$W/perf-$name-$LABEL.data"
  perf record -F 999 -g -p "$PID" -o "$data" 2> /dev/null &
  local perf_pid=$!
  sleep 0.5
  "$@" > "$W/profile-run.txt"
  kill -INT "$perf_pid"; wait "$perf_pid" || true
  {
    echo "# $name, server: $SERVER ($LABEL)"
    echo "# load: $*"
    grep -E 'ms |/s|errors' "$W/profile-run.txt" | sed 's/^/#   /'
  } > "$OUT/$name-$LABEL.txt"
  report "$data" >> "$OUT/$name-$LABEL.txt"
  echo "$OUT/$name-$LABEL.txt"
}

report() { # PERF-DATA
  local flat=(perf report -i "$1" --stdio -g none)
  echo "# user space / kernel (share of the server's samples):"
  "${flat[@]}" --no-children --sort dso 2> /dev/null | grep -E '^ +[0-9]' | head -4 | sed 's/ *$//; s/^/#  /'
  echo "# the server's own functions, inclusive (children counted), the top 12:"
  "${flat[@]}" --children --sort sym 2> /dev/null | grep -E '^ +[0-9]' | grep -E 'buzon_[a-z_]+::' \
    | grep -v '{{closure}}\|{closure' | head -12 | sed 's/ *$//'
  echo "# symbols, self time, above 1 %:"
  "${flat[@]}" --no-children --sort dso,sym --percent-limit 1 2> /dev/null | grep -E '^ +[0-9]' | sed 's/ *$//'
}

for s in "${SCENARIOS[@]}"; do
  start
  case "$s" in
    plainbox-first)
      record "$s" "$CLIENT" bench bigbox "${TARGET[@]}" --users plainbox --rounds 1 --timeout 120 --duration 600 ;;
    busy)
      # Two logins first: the listing in memory is then as it would be on a busy server.
      "$CLIENT" bench bigbox "${TARGET[@]}" --users plainbox --rounds 2 --pause 1 --timeout 120 --duration 600 > /dev/null
      record "$s" "$CLIENT" bench bigbox "${TARGET[@]}" --users plainbox --rounds 6 --pause 1 --deliver-every 1 --lmtp "127.0.0.1:$LMTP" --timeout 120 --duration 600 ;;
    top0)
      record "$s" "$CLIENT" bench retr "${TARGET[@]}" --users 'big{1..4}' --clients 4 --top 0 --duration 5 ;;
  esac
done
