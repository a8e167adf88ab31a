#!/usr/bin/env bash
# Side-by-side benchmark of Buzón and Dovecot on this machine (see docs/benchmarks.md):
# Dovecot on Maildir, Buzón on Maildir, and a Buzón node on PostgreSQL (a private cluster
# on the same cores, durable settings, the corpus copied in with `buzon migrate`), and
# then two such nodes on the one database against one (RETR and LMTP, the load split).
#
#   bench/compare.sh            full run (about 35 minutes with the corpus made; rewrites
#                               docs/benchmarks.md)
#   bench/compare.sh --smoke    every scenario briefly against both servers (< 4 minutes
#                               once built); writes $BENCH_DIR/benchmarks-smoke.md only
#   bench/compare.sh --summary-only   the tables again from the last run's raw results
#                               (e.g. after changing a target); runs nothing
#
# It builds the release binary, installs Debian's dovecot-core, dovecot-pop3d and
# dovecot-lmtpd if missing (services stay disabled), generates one corpus (Maildirs, a
# passwd-file with ARGON2ID hashes, a TLS certificate), gives each server its own copy
# (hard links) on loopback high ports, runs each scenario on both servers alternately
# (A B A B A B) and prints the medians and the Buzón/Dovecot ratios.
# Needs root (to install packages and to run Dovecot's mail processes as `nobody`).
# Environment: BENCH_DIR (work folder, default /tmp/buzon-bench), BENCH_SECONDS (per run),
# CARGO_TARGET_DIR (where cargo builds); BENCH_ONLY (scenario keys to run, space-separated,
# e.g. "bigbox idle"; default all), BENCH_BIGBOX (messages in the big mailbox) and
# BENCH_IDLE (idle sessions per Buzón node; BENCH_USERS users in the smoke corpus) to
# measure one scenario at another size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

MODE=full
WRITE_DOCS=1
SUMMARY_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --smoke) MODE=smoke; WRITE_DOCS=0 ;;
    --no-docs) WRITE_DOCS=0 ;;
    --summary-only) SUMMARY_ONLY=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $arg (use --smoke, --no-docs, --summary-only)" >&2; exit 2 ;;
  esac
done

W=${BENCH_DIR:-/tmp/buzon-bench}
mkdir -p "$W"
RESULTS="$W/results-$MODE.jsonl"

if [ "$MODE" = smoke ]; then
  SECS=${BENCH_SECONDS:-1}
  CORPUS_ARGS=(--users "${BENCH_USERS:-200}" --small-per-user 4 --big-boxes 4 --big-count 40 --bigbox-count "${BENCH_BIGBOX:-3000}" --plainbox-count "${BENCH_BIGBOX:-3000}")
  DELIVER_USERS="user{00151..00200}"
  LOGIN_USERS="user{00001..00150}"; IDLE_B=${BENCH_IDLE:-100}; IDLE_D=50; HOLD=0.5; REPEAT=1
  BURST=(--retr-seconds 1 --settle 5)
else
  SECS=${BENCH_SECONDS:-10}
  CORPUS_ARGS=(--users 10000 --small-per-user 4 --big-boxes 4 --big-count 2000 --bigbox-count "${BENCH_BIGBOX:-100000}" --plainbox-count "${BENCH_BIGBOX:-100000}")
  DELIVER_USERS="user{02001..02100}"
  LOGIN_USERS="user{00001..01000}"; IDLE_B=${BENCH_IDLE:-10000}; IDLE_D=2000; HOLD=3; REPEAT=3
  BURST=(--retr-seconds 8 --settle 60)
fi
PASSWORD=bench-password
export BUZON_BENCH_PASSWORD=$PASSWORD

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

log() { printf '\n== %s\n' "$*" >&2; }

# --- summary -----------------------------------------------------------------------------
# The tables from $RESULTS, into $W/benchmarks-$MODE.md and (full mode) docs/benchmarks.md.
summarize() {
SUMMARY="$W/benchmarks-$MODE.md"
python3 - "$RESULTS" "$SUMMARY" "$MODE" "$DOVECOT_VERSION" "$SECS" "$REPEAT" "$IDLE_B" "$IDLE_D" <<'PY'
import json, sys, statistics, datetime, platform, subprocess
results, out, mode, dv, secs, repeat, idle_b, idle_d = sys.argv[1:9]
runs = [json.loads(l) for l in open(results) if l.strip()]
def metric(key, r):
    e = r.get("extra", {})
    return {
        "bigbox-first": e.get("round1_ms"), "bigbox-second": e.get("round2_ms"),
        "plainbox-first": e.get("round1_ms"), "plainbox-second": e.get("round2_ms"),
        "busy": e.get("later_median_ms"),
        "idle": e.get("pss_per_session_kib"),
    }.get(key, r["mb_per_s"] if key.startswith("retr") else r["rate_per_s"])
rows = [
    ("login-plain", "logins/s, plain, 16 clients", "higher", 3.0, "≥ 3×"),
    ("login-tls", "logins/s, implicit TLS, 16 clients", "higher", 8.0, "≥ 8×"),
    ("retr-plain", "RETR MB/s, plain, 4 clients, 50 KB", "higher", 3.0, "≥ 3×"),
    ("retr-pipe", "RETR MB/s, plain, pipelined ×8", "higher", 2.0, "≥ 2×"),
    ("retr-tls", "RETR MB/s, TLS, 4 clients", "higher", 4.0, "≥ 4×"),
    ("small", "4 KB messages/s, 16 clients, login per mailbox", "higher", 8.0, "≥ 8×"),
    ("top0", "TOP n 0 messages/s, 4 clients", "higher", 3.0, "≥ 3×"),
    ("bigbox-first", "100k mailbox STAT+LIST+UIDL ms, first login", "lower", 2.0, "≤ ½"),
    ("bigbox-second", "100k mailbox STAT+LIST+UIDL ms, second login", "lower", 5.0, "≤ ⅕"),
    ("plainbox-first", "100k mailbox, no sizes in names, ms, first login", "lower", 2.0, "≤ ½"),
    ("plainbox-second", "100k mailbox, no sizes in names, ms, second login", "lower", 5.0, "≤ ⅕"),
    ("busy", "same, a message arriving every second, ms, later logins", "lower", 5.0, "≤ ⅕"),
    ("idle", "server KiB (PSS) per idle session", "lower", None, "≤ 20 KiB"),
    ("deliver", "LMTP deliveries/s, 10 KB, fsync, 8 clients", "higher", 1.0, "≥ 1×"),
]
def values(key, server):
    src = key.split("-")[0] if key.startswith(("bigbox", "plainbox")) else key
    v = []
    errors = 0
    for r in runs:
        if r["key"] == src and r["server"] == server:
            if r["report"] is None:
                errors += 1
                continue
            errors += r["report"]["errors"]
            m = metric(key, r["report"])
            if m is not None:
                v.append(m)
    return v, errors
lines = []
lines.append("| scenario | Dovecot median | Buzón median | Buzón/Dovecot | target | met | errors D/B |")
lines.append("|---|---|---|---|---|---|---|")
for key, label, better, goal, goal_text in rows:
    dvals, derr = values(key, "dovecot")
    bvals, berr = values(key, "buzon")
    if not dvals or not bvals:
        lines.append(f"| {label} | {'—' if not dvals else f'{statistics.median(dvals):.1f}'} | {'—' if not bvals else f'{statistics.median(bvals):.1f}'} | — | {goal_text} | no data | {derr}/{berr} |")
        continue
    d, b = statistics.median(dvals), statistics.median(bvals)
    ratio = b / d if d else float("inf")
    if better == "higher":
        met = ratio >= goal
        rtext = f"{ratio:.2f}×"
    elif goal is None:
        met = b <= 20.0
        rtext = f"{d / b:.1f}× less" if b else "—"
    else:
        met = b <= d / goal
        rtext = f"{ratio:.2f}× the time" + (f" ({d / b:.1f}× faster)" if b else "")
    lines.append(f"| {label} | {d:.1f} | {b:.1f} | {rtext} | {goal_text} | {'yes' if met else 'NO'} | {derr}/{berr} |")
table = "\n".join(lines)
# The Buzón node on PostgreSQL against Dovecot on Maildir (issue targets: at least even).
pg_rows = {"login-plain": ("higher", 1.0, "≥ 1×"), "login-tls": ("higher", 1.0, "≥ 1×"),
           "retr-plain": ("higher", 1.0, "≥ 1×"), "retr-pipe": ("higher", 1.0, "≥ 1×"),
           "retr-tls": ("higher", 1.0, "≥ 1×"), "small": ("higher", 1.0, "≥ 1×"),
           "top0": ("higher", 1.0, "≥ 1×"), "bigbox-first": ("lower", None, "—"),
           "bigbox-second": ("lower", 1.0, "≤ 1×"), "idle": ("lower", None, "≤ 20 KiB"),
           "plainbox-first": None, "plainbox-second": None, "busy": None,
           "deliver": ("higher", 1.0, "≥ 1×")}
def pg_share(key):
    src = "bigbox" if key.startswith("bigbox") else key
    v = [r["pg_cpu_s"] / r["report"]["machine_cpu_s"] for r in runs
         if r["key"] == src and r["server"] == "buzonpg" and r["report"]
         and r.get("pg_cpu_s") is not None and r["report"].get("machine_cpu_s")]
    return f"{100 * statistics.median(v):.0f} %" if v else "—"
pg_lines = ["| scenario | Dovecot median | Buzón on PostgreSQL median | PostgreSQL node/Dovecot | target | met | PostgreSQL's share of the busy CPU | errors D/P |",
            "|---|---|---|---|---|---|---|---|"]
for key, label, *_ in rows:
    if pg_rows.get(key) is None:
        continue  # names without sizes are a Maildir matter
    better, goal, goal_text = pg_rows[key]
    dvals, derr = values(key, "dovecot")
    pvals, perr = values(key, "buzonpg")
    if not dvals or not pvals:
        pg_lines.append(f"| {label} | — | — | — | {goal_text} | no data | — | {derr}/{perr} |")
        continue
    d, b = statistics.median(dvals), statistics.median(pvals)
    if key == "idle":
        met, rtext = b <= 20.0, (f"{d / b:.1f}× less" if b else "—")
    elif better == "higher":
        met, rtext = b / d >= goal, f"{b / d:.2f}×"
    else:
        met = None if goal is None else b <= d * goal
        rtext = f"{b / d:.2f}× the time"
    mtext = "—" if met is None else ("yes" if met else "NO")
    pg_lines.append(f"| {label} | {d:.1f} | {b:.1f} | {rtext} | {goal_text} | {mtext} | {pg_share(key)} | {derr}/{perr} |")
pg_table = "\n".join(pg_lines)
# Two nodes on one database against one node, same load split (medians of the runs made
# side by side in the two-node section; the one-node figures there are its own runs).
two_lines = ["| scenario | one node median | two nodes median | two/one | errors 1/2 |", "|---|---|---|---|---|"]
for key, label in (("retr", "RETR MB/s, plain, 4 clients (2 + 2)"), ("deliver", "LMTP deliveries/s, 10 KB, 8 clients (4 + 4)")):
    ones, e1 = values(key + "-1n", "buzonpg")
    twos, e2 = values(key + "-2n", "buzonpg2n")
    if not ones or not twos:
        two_lines.append(f"| {label} | — | — | no data | {e1}/{e2} |")
        continue
    o, t = statistics.median(ones), statistics.median(twos)
    two_lines.append(f"| {label} | {o:.1f} | {t:.1f} | {t / o:.2f}× | {e1}/{e2} |")
pg_table += "\n\nTwo Buzón nodes on the one database (same machine) against one node, the same load split between them:\n\n" + "\n".join(two_lines)
# CPU per operation: the whole machine's busy time during a run minus the load generator's
# own, per operation (the server's share, with its kernel work for the sockets).
def per_op(key, server, field):
    v = []
    for r in runs:
        rep = r["report"]
        if r["key"] != key or r["server"] != server or rep is None or not rep.get("ops"):
            continue
        if field == "other":
            if rep.get("other_cpu_us_per_op") is not None:
                v.append(rep["other_cpu_us_per_op"])
        else:
            v.append(rep["client_cpu_s"] * 1e6 / rep["ops"])
    return statistics.median(v) if v else None
cpu_lines = ["| scenario | Dovecot µs/op | Buzón µs/op | Dovecot/Buzón | load generator µs/op D/B |",
             "|---|---|---|---|---|"]
for key, label, *_ in rows:
    if key.startswith(("bigbox", "plainbox")) or key in ("idle", "busy"):
        continue
    d, b = per_op(key, "dovecot", "other"), per_op(key, "buzon", "other")
    cd, cb = per_op(key, "dovecot", "client"), per_op(key, "buzon", "client")
    if d is None or b is None:
        continue
    cpu_lines.append(f"| {label} | {d:.1f} | {b:.1f} | {d / b if b else float('inf'):.2f}× | {cd:.1f} / {cb:.1f} |")
cpu_table = "\n".join(cpu_lines)
# Memory given back after the burst (Buzón's RSS, MiB).
burst = [r["report"] for r in runs if r["key"] == "burst" and r["report"]]
if burst:
    e = burst[-1].get("extra", {})
    f = lambda k: f"{e[k]:.1f}" if e.get(k) is not None else "—"
    back = e.get("back_within_slack_after_s", -1)
    met = back is not None and 0 <= back <= 60
    burst_table = ("| RSS before | peak | end of burst | after 10 s | after 30 s | after 60 s | back within +20 MB after | target | met |\n"
                   "|---|---|---|---|---|---|---|---|---|\n"
                   f"| {f('rss_before_mib')} | {f('rss_peak_mib')} | {f('rss_end_of_burst_mib')} | {f('rss_after_10s_mib')} | {f('rss_after_30s_mib')} | {f('rss_after_60s_mib')} | "
                   f"{'%d s' % back if met else 'not within the watch'} | ≤ 60 s | {'yes' if met else 'NO'} |")
else:
    burst_table = "(no burst run)"
cpu = "unknown"
try:
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip(); break
except OSError:
    pass
ncpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
mem = subprocess.run(["sh", "-c", "free -g | awk '/Mem:/{print $2}'"], capture_output=True, text=True).stdout.strip()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
doc = f"""# Benchmarks: Buzón and Dovecot side by side

Latest run: {now}, `bench/compare.sh{' --smoke' if mode == 'smoke' else ''}` ({mode} mode).

Machine: {cpu}, {ncpu} cores, {mem} GiB; kernel {platform.release()}. Client and both servers
share the cores. Dovecot {dv} (Debian) in performance login mode (`service_count = 0`,
`process_min_avail` = cores) with its auth cache on; Buzón built with `cargo build --release`.
Both serve copies of one corpus (hard links) with the same ARGON2ID hashes (m=19456 KiB,
t=2, p=1), the same certificate (ECDSA P-256; the load generator offers TLS 1.3 and 1.2), the same
1-hour auth-cache lifetime, on 127.0.0.1 high ports.

Each scenario ran {repeat}× per server, alternating Dovecot and Buzón, {secs} s per run
(`bigbox` and `idle` run to completion); the table shows medians. Ratios are Buzón over
Dovecot (higher is better for rates; for times and memory lower is better). Every RETR
body is checked against its LIST size; any mismatch or failure counts as an error.
Idle sessions attempted: Buzón {idle_b}, Dovecot {idle_d} (one process per session in Dovecot;
fewer because each of its logins costs a full Argon2 verification), measured once per
server as the marginal cost: every session user logs in and out once first (`--warm`), then
(PSS of the server's process tree while the sessions are held − PSS before) / sessions.

{table}

A Buzón node on the PostgreSQL store (a private PostgreSQL cluster on the same two cores
with its durable defaults — `fsync` and `synchronous_commit` on — filled from the same
corpus by `buzon migrate`; `pool_size = 32`) against Dovecot on Maildir. The last column
is the cluster's CPU time during each run over the whole machine's busy time.

{pg_table}

The server's memory (RSS, MiB) around a burst — {idle_b} sessions logged in at once, then
closed, then a RETR run (`buzon bench burst`, a fresh process whose auth cache already holds
the users) — and each second for a minute after it:

{burst_table}

CPU per operation outside the load generator (medians; the machine's busy time in
`/proc/stat` during each run minus the generator's own CPU, divided by the operations:
the server's share, including the kernel's work on its sockets). A rate can only rise as
far as the two cores allow once the generator has taken its part.

{cpu_table}

Exact commands (from `bench/compare.sh`; `@POP3@` is the server's plain port, `@POP3S@` its
POP3S port, `@PID@` its process id; every command also gets `--ca corpus/tls/ca.pem`):

```sh
buzon bench corpus --out corpus {'(smoke sizes)' if mode == 'smoke' else '--users 10000 --small-per-user 4 --big-boxes 4 --big-count 2000 --bigbox-count 100000 --plainbox-count 100000'}
buzon bench login  --target @POP3@  --users 'user{{00001..01000}}' --clients 16 --duration {secs}
buzon bench login  --target @POP3S@ --security tls --users 'user{{00001..01000}}' --clients 16 --duration {secs}
buzon bench retr   --target @POP3@  --users 'big{{1..4}}' --clients 4 --duration {secs}
buzon bench retr   --target @POP3@  --users 'big{{1..4}}' --clients 4 --pipeline 8 --duration {secs}
buzon bench retr   --target @POP3S@ --security tls --users 'big{{1..4}}' --clients 4 --duration {secs}
buzon bench retr   --target @POP3@  --users 'user{{00001..01000}}' --clients 16 --mailbox-per-session --duration {secs}
buzon bench retr   --target @POP3@  --users 'big{{1..4}}' --clients 4 --top 0 --duration {secs}
buzon bench bigbox --target @POP3@  --users bigbox --rounds 2 --pause 3   # after deleting both servers' index files, touching cur/ and restarting Buzón
buzon bench bigbox --target @POP3@  --users plainbox --rounds 2 --pause 3 # names without sizes (corpus --plainbox-count 100000)
buzon bench bigbox --target @POP3@  --users plainbox --rounds 6 --pause 1 --deliver-every 1 --lmtp @LMTP@
buzon bench burst  --target @POP3@  --users 'user{{00001..10000}}' --sessions 10000 --warm --retr-seconds 8 --settle 60 --server-pid @PID@   # a fresh process
buzon bench deliver --target @LMTP@ --users 'user{{02001..02100}}' --clients 8 --size 10240 --duration {secs}
buzon bench idle   --target @POP3@  --users 'user{{00001..N}}' --sessions N --server-pid @PID@ --hold 3 --warm
```

Raw JSON of every run: `{results}`.
"""
open(out, "w").write(doc)
print(table)
print()
print(pg_table)
PY
log "summary written to $SUMMARY"
if [ "$WRITE_DOCS" = 1 ]; then
  # Hand-written analysis below the marker line survives a new run.
  notes=""
  if [ -f "$ROOT/docs/benchmarks.md" ] && grep -q '^<!-- notes -->$' "$ROOT/docs/benchmarks.md"; then
    notes=$(sed -n '/^<!-- notes -->$/,$p' "$ROOT/docs/benchmarks.md")
  fi
  {
    cat "$SUMMARY"
    if [ -n "$notes" ]; then printf '\n%s\n' "$notes"; fi
  } > "$ROOT/docs/benchmarks.md"
  log "docs/benchmarks.md updated"
fi
}

if [ "$SUMMARY_ONLY" = 1 ]; then
  [ -s "$RESULTS" ] || { echo "compare.sh: no results in $RESULTS to summarize" >&2; exit 1; }
  DOVECOT_VERSION=$(dovecot --version)
  summarize
  exit 0
fi
: > "$RESULTS"

# --- build and install -------------------------------------------------------------------
log "building the release binary"
cargo build --release -p buzon
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/buzon"

missing=""
for p in dovecot-core dovecot-pop3d dovecot-lmtpd python3 postgresql; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "installing$missing"
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
DOVECOT_VERSION=$(dovecot --version)

# Many sessions need many descriptors (the servers and the load generator inherit this).
ulimit -n 200000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- corpus ------------------------------------------------------------------------------
CORPUS="$W/corpus-$MODE"
# Reused between runs while it was made with the same arguments.
if [ ! -f "$CORPUS/CORPUS" ] || [ "$(cat "$CORPUS/ARGS" 2>/dev/null)" != "${CORPUS_ARGS[*]}" ]; then
  log "generating the corpus in $CORPUS (Argon2id hashing takes a while)"
  rm -rf "$CORPUS"
  "$BIN" bench corpus --out "$CORPUS" "${CORPUS_ARGS[@]}"
  printf '%s' "${CORPUS_ARGS[*]}" > "$CORPUS/ARGS"
fi
# The same ARGON2ID hash must verify in Dovecot too (libsodium); check one.
first_hash=$(head -n1 "$CORPUS/passwd" | cut -d: -f2-)
doveadm pw -t "$first_hash" -p "$PASSWORD" >/dev/null || { echo "compare.sh: Dovecot cannot verify the corpus's ARGON2ID hashes" >&2; exit 1; }

# --- servers -----------------------------------------------------------------------------
D_POP3=21110; D_POP3S=21995; D_LMTP=21024
B_POP3=22110; B_POP3S=22995; B_LMTP=22024
P_POP3=23110; P_POP3S=23995; P_LMTP=23024; PG_PORT=23432
Q_POP3=24110; Q_POP3S=24995; Q_LMTP=24024 # a second node on the same database

fresh_copy() { # server-dir
  rm -rf "$1/mail"
  mkdir -p "$1"
  cp -al "$CORPUS/mail" "$1/mail"
}

DOVECOT_PID=""; BUZON_PID=""; BUZONPG_PID=""; BUZONPG2_PID=""; PG_STARTED=""
cleanup() {
  [ -n "$BUZONPG2_PID" ] && kill "$BUZONPG2_PID" 2>/dev/null || true
  [ -n "$BUZON_PID" ] && kill "$BUZON_PID" 2>/dev/null || true
  [ -n "$BUZONPG_PID" ] && kill "$BUZONPG_PID" 2>/dev/null || true
  [ -n "$PG_STARTED" ] && as_pg "$PG_BIN/pg_ctl" -D "$W/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  [ -n "$DOVECOT_PID" ] && kill "$DOVECOT_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

start_dovecot() { # [fresh]: new copy of the corpus
  local d="$W/dovecot"
  if [ "${1:-}" = fresh ]; then
    rm -rf "$d"; mkdir -p "$d/run" "$d/state"
    fresh_copy "$d"
    # Mail processes may not run as root: give the copy's folders to `nobody` (the files
    # are hard links shared with the corpus and only need to be readable).
    find "$d/mail" -type d -exec chown nobody:nogroup {} +
    chmod 755 "$W" "$d"
  fi
  cat > "$d/dovecot.conf" <<CONF
# Private Dovecot for bench/compare.sh: loopback high ports, tuned for speed
# (performance login mode, auth cache), nothing shared with a system Dovecot.
instance_name = buzon-bench
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
protocols = pop3 lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$CORPUS/tls/cert.pem
ssl_key = <$CORPUS/tls/key.pem
ssl_dh = </usr/share/dovecot/dh.pem
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain
# LMTP recipients arrive as user@localhost; users are looked up without the domain.
auth_username_format = %Ln
auth_cache_size = 64M
auth_cache_ttl = 1 hour
auth_cache_negative_ttl = 1 hour
# Cached logins still verify the hash; let the auth workers do it on every core.
auth_cache_verify_password_with_worker = yes
passdb {
  driver = passwd-file
  args = scheme=ARGON2ID $CORPUS/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/mail/%u
}
mail_location = maildir:~
mail_fsync = always
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 100000
default_process_limit = 20000
default_client_limit = 40000
default_vsz_limit = 1G
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $D_POP3
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $D_POP3S
    ssl = yes
  }
  service_count = 0
  process_min_avail = $(nproc)
  client_limit = 20000
}
service pop3 {
  process_limit = 20000
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $D_LMTP
  }
}
CONF
  dovecot -c "$d/dovecot.conf"
  wait_port "$D_POP3"
  DOVECOT_PID=$(cat "$d/run/master.pid")
}

# start_node DIR: runs `buzon serve` on DIR/buzon.toml; prints its pid.
start_node() {
  RUST_LOG=warn "$BIN" serve --config "$1/buzon.toml" > "$1/serve.log" 2>&1 &
  echo $!
}

start_buzon() { # [fresh]: new copy of the corpus
  local b="$W/buzon"
  if [ "${1:-}" = fresh ]; then
    rm -rf "$b"; mkdir -p "$b/data"
    fresh_copy "$b"
  fi
  write_buzon_config "$b" "$B_POP3" "$B_POP3S" "$B_LMTP"
  BUZON_PID=$(start_node "$b")
  wait_port "$B_POP3"
  sleep 0.2
  kill -0 "$BUZON_PID" 2>/dev/null || { echo "compare.sh: buzon serve exited; see $b/serve.log" >&2; exit 1; }
}

# PostgreSQL refuses to run as root: the cluster belongs to `nobody` when this is root.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
PG_PASSWORD=bench-db-password
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }

# A private cluster with PostgreSQL's durable defaults (fsync, synchronous_commit), on
# the same cores, and the corpus copied into it with `buzon migrate`.
start_postgres() {
  local d="$W/pg"
  [ -x "$PG_BIN/initdb" ] || { echo "compare.sh: PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 1; }
  rm -rf "$d"; mkdir -p "$d"
  printf '%s\n' "$PG_PASSWORD" > "$d/pwfile"
  [ "$(id -u)" = 0 ] && chown -R nobody "$d"
  as_pg "$PG_BIN/initdb" -D "$d/data" -U buzon --pwfile="$d/pwfile" -A scram-sha-256 -E UTF8 >"$d/initdb.log" 2>&1 \
    || { echo "compare.sh: initdb failed; see $d/initdb.log" >&2; exit 1; }
  as_pg "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -o "-p $PG_PORT -k $d -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" start >/dev/null \
    || { echo "compare.sh: PostgreSQL did not start; see $d/server.log" >&2; exit 1; }
  PG_STARTED=1
  PGPASSWORD=$PG_PASSWORD "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U buzon buzon
  PG_PIDS_FILE="$d/data/postmaster.pid"
}

# CPU seconds used so far by every process of the cluster (the postmaster's tree).
pg_cpu() {
  python3 - "$(head -n1 "$PG_PIDS_FILE")" <<'PY'
import os, sys
root = sys.argv[1]
tick = os.sysconf("SC_CLK_TCK")
total = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    fields = stat[stat.rindex(")") + 2:].split()
    if pid == root or fields[1] == root:
        total += int(fields[11]) + int(fields[12])
print(total / tick)
PY
}

start_buzonpg() {
  local p="$W/buzonpg"
  rm -rf "$p"; mkdir -p "$p/data" "$p/mail"
  printf '%s\n' "$PG_PASSWORD" > "$p/db-password"
  write_buzon_config "$p" "$P_POP3" "$P_POP3S" "$P_LMTP" "
[store]
kind = \"postgres\"
url = \"postgresql://buzon@127.0.0.1:$PG_PORT/buzon\"
password_file = \"$p/db-password\"
pool_size = 32"
  log "copying the corpus into PostgreSQL (buzon migrate)"
  "$BIN" migrate --from "$W/buzon/buzon.toml" --to "$p/buzon.toml" > "$p/migrate.log" 2>&1 \
    || { tail -n 5 "$p/migrate.log" >&2; echo "compare.sh: buzon migrate failed; see $p/migrate.log" >&2; exit 1; }
  tail -n 1 "$p/migrate.log" >&2
  BUZONPG_PID=$(start_node "$p")
  wait_port "$P_POP3"
  sleep 0.2
  kill -0 "$BUZONPG_PID" 2>/dev/null || { echo "compare.sh: buzon serve (PostgreSQL) exited; see $p/serve.log" >&2; exit 1; }
}

log "starting Dovecot $DOVECOT_VERSION, Buzón, PostgreSQL and a Buzón node on it"
for port in $D_POP3 $D_POP3S $D_LMTP $B_POP3 $B_POP3S $B_LMTP $P_POP3 $P_POP3S $P_LMTP $Q_POP3 $Q_POP3S $Q_LMTP $PG_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "compare.sh: something already listens on 127.0.0.1:$port; stop it first" >&2
    exit 1
  fi
done
start_dovecot fresh
start_buzon fresh
start_postgres
start_buzonpg

# --- scenarios ---------------------------------------------------------------------------
# bench SERVER KEY ARGS...: one run, its JSON line tagged and appended to the results.
bench() {
  local server=$1 key=$2; shift 2
  # BENCH_ONLY: only the scenarios named (the auth-cache warm-up always runs).
  if [ -n "${BENCH_ONLY:-}" ] && [ "$key" != warmup ] && [[ " $BENCH_ONLY " != *" $key "* ]]; then
    return 0
  fi
  local pop3 pop3s lmtp pid
  case "$server" in
    dovecot) pop3=$D_POP3; pop3s=$D_POP3S; lmtp=$D_LMTP; pid=$DOVECOT_PID ;;
    buzon) pop3=$B_POP3; pop3s=$B_POP3S; lmtp=$B_LMTP; pid=$BUZON_PID ;;
    buzonpg) pop3=$P_POP3; pop3s=$P_POP3S; lmtp=$P_LMTP; pid=$BUZONPG_PID ;;
  esac
  local args=("$@") out
  args=("${args[@]//@POP3@/127.0.0.1:$pop3}")
  args=("${args[@]//@POP3S@/127.0.0.1:$pop3s}")
  args=("${args[@]//@LMTP@/127.0.0.1:$lmtp}")
  args=("${args[@]//@PID@/$pid}")
  printf '%-8s %-15s ' "$server" "$key" >&2
  local pg0 pg1
  pg0=$(pg_cpu)
  if out=$("$BIN" bench "${args[@]}" --label "$server" --ca "$CORPUS/tls/ca.pem" --format json); then
    pg1=$(pg_cpu)
    printf '%s\n' "$out" | tail -n1 | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%10.1f/s %9.1f MB/s  p50 %s ms  p99 %s ms  errors %d" % (r["rate_per_s"], r["mb_per_s"], r["p50_ms"], r["p99_ms"], r["errors"]))' >&2
    printf '{"key":"%s","server":"%s","pg_cpu_s":%s,"report":%s}\n' "$key" "$server" "$(python3 -c "print(round($pg1 - $pg0, 3))")" "$(printf '%s\n' "$out" | tail -n1)" >> "$RESULTS"
  else
    echo "FAILED" >&2
    printf '{"key":"%s","server":"%s","report":null}\n' "$key" "$server" >> "$RESULTS"
  fi
}

reset_bigbox() { # SERVER: drop its index state of the big mailboxes (no session is open)
  local box
  for box in bigbox plainbox; do
    rm -f "$W/$1/mail/$box"/dovecot* "$W/$1/mail/$box/buzon-index"
    touch "$W/$1/mail/$box/cur"
  done
  # Buzón remembers large listings (and sizes by inode) in memory: a restart makes its
  # next login a cold one, as Dovecot's is without its index files.
  if [ "$1" = buzon ]; then
    kill "$BUZON_PID"; wait "$BUZON_PID" 2>/dev/null || true
    start_buzon
  fi
  # Both then rest, so the first login meets a quiet mailbox.
  sleep 3
}
warm_logins() { # SERVER: every login user once, so the auth caches hold them
  bench "$1" warmup login --target @POP3@ --users "$LOGIN_USERS" --clients 16 --count "$(python3 -c "import re;a,b=re.findall(r'\d+','$LOGIN_USERS');print(int(b)-int(a)+1)")" --duration 600
}

log "warming the auth caches (every login user once)"
for s in dovecot buzon buzonpg; do
  bench "$s" warmup login --target @POP3@ --users bigbox --clients 1 --count 1 --duration 60
  warm_logins "$s"
done

log "running every scenario, alternating servers ($REPEAT rounds, $SECS s each)"
for round in $(seq 1 "$REPEAT"); do
  for s in dovecot buzon buzonpg; do
    C=(--duration "$SECS")
    bench "$s" login-plain  login --target @POP3@ --users "$LOGIN_USERS" --clients 16 "${C[@]}"
    bench "$s" login-tls    login --target @POP3S@ --security tls --users "$LOGIN_USERS" --clients 16 "${C[@]}"
    bench "$s" retr-plain   retr --target @POP3@ --users 'big{1..4}' --clients 4 "${C[@]}"
    bench "$s" retr-pipe    retr --target @POP3@ --users 'big{1..4}' --clients 4 --pipeline 8 "${C[@]}"
    bench "$s" retr-tls     retr --target @POP3S@ --security tls --users 'big{1..4}' --clients 4 "${C[@]}"
    bench "$s" small        retr --target @POP3@ --users "$LOGIN_USERS" --clients 16 --mailbox-per-session "${C[@]}"
    bench "$s" top0         retr --target @POP3@ --users 'big{1..4}' --clients 4 --top 0 "${C[@]}"
    if [ "$s" = buzonpg ]; then
      bench "$s" bigbox     bigbox --target @POP3@ --users bigbox --rounds 2 --pause 3 --timeout 120 --duration 600
    else
      reset_bigbox "$s"
      bench "$s" bigbox     bigbox --target @POP3@ --users bigbox --rounds 2 --pause 3 --timeout 120 --duration 600
      # Names without sizes (Postfix local, procmail, getmail): the first login reads
      # every message; then the same mailbox with a message arriving every second.
      bench "$s" plainbox   bigbox --target @POP3@ --users plainbox --rounds 2 --pause 3 --timeout 120 --duration 600
      bench "$s" busy       bigbox --target @POP3@ --users plainbox --rounds 6 --pause 1 --deliver-every 1 --lmtp @LMTP@ --timeout 120 --duration 600
      if [ "$s" = buzon ]; then warm_logins "$s"; fi
    fi
    # Deliveries go to users no other scenario reads, so the mailboxes the others measure
    # stay the same size for both servers.
    bench "$s" deliver      deliver --target @LMTP@ --users "$DELIVER_USERS" --clients 8 --size 10240 "${C[@]}"
  done
done

# Two nodes on one database against one node: the same load split over both nodes (half
# the clients each, the big mailboxes split so no login meets the other node's lease).
log "two PostgreSQL nodes on one database against one ($REPEAT rounds, $SECS s each)"
start_buzonpg2() {
  local p="$W/buzonpg2"
  rm -rf "$p"; mkdir -p "$p/data" "$p/mail"
  cp "$W/buzonpg/db-password" "$p/db-password"
  write_buzon_config "$p" "$Q_POP3" "$Q_POP3S" "$Q_LMTP" "
[store]
kind = \"postgres\"
url = \"postgresql://buzon@127.0.0.1:$PG_PORT/buzon\"
password_file = \"$p/db-password\"
pool_size = 32"
  BUZONPG2_PID=$(start_node "$p")
  wait_port "$Q_POP3"
  sleep 0.2
  kill -0 "$BUZONPG2_PID" 2>/dev/null || { echo "compare.sh: the second PostgreSQL node exited; see $p/serve.log" >&2; exit 1; }
}
start_buzonpg2
# bench_two KEY ARGS-NODE-1 -- ARGS-NODE-2: both at once; one JSON line with the sums.
bench_two() {
  local key=$1; shift
  local a=() b=() side=a
  for x in "$@"; do
    if [ "$x" = -- ]; then side=b; continue; fi
    if [ $side = a ]; then a+=("$x"); else b+=("$x"); fi
  done
  printf '%-8s %-15s ' "2nodes" "$key" >&2
  local pg0 pg1 oa ob
  pg0=$(pg_cpu)
  "$BIN" bench "${a[@]}" --label node1 --ca "$CORPUS/tls/ca.pem" --format json > "$W/two-a.json" & local pa=$!
  "$BIN" bench "${b[@]}" --label node2 --ca "$CORPUS/tls/ca.pem" --format json > "$W/two-b.json" & local pb=$!
  if wait "$pa" && wait "$pb"; then
    pg1=$(pg_cpu)
    python3 - "$W/two-a.json" "$W/two-b.json" "$key" "$(python3 -c "print(round($pg1 - $pg0, 3))")" >> "$RESULTS" <<'PY2'
import json, sys
a, b = (json.loads(open(f).read().strip().splitlines()[-1]) for f in sys.argv[1:3])
r = {"rate_per_s": a["rate_per_s"] + b["rate_per_s"], "mb_per_s": a["mb_per_s"] + b["mb_per_s"],
     "errors": a["errors"] + b["errors"], "machine_cpu_s": max(a.get("machine_cpu_s") or 0, b.get("machine_cpu_s") or 0)}
print(json.dumps({"key": sys.argv[3], "server": "buzonpg2n", "pg_cpu_s": float(sys.argv[4]), "report": r}))
PY2
    tail -n1 "$RESULTS" | python3 -c 'import json,sys; r=json.load(sys.stdin)["report"]; print("%10.1f/s %9.1f MB/s  errors %d" % (r["rate_per_s"], r["mb_per_s"], r["errors"]))' >&2
  else
    echo "FAILED" >&2
    printf '{"key":"%s","server":"buzonpg2n","report":null}\n' "$key" >> "$RESULTS"
  fi
}
for round in $(seq 1 "$REPEAT"); do
  C=(--duration "$SECS")
  bench buzonpg retr-1n retr --target @POP3@ --users 'big{1..4}' --clients 4 "${C[@]}"
  bench_two retr-2n retr --target "127.0.0.1:$P_POP3" --users 'big{1..2}' --clients 2 "${C[@]}" \
    -- retr --target "127.0.0.1:$Q_POP3" --users 'big{3..4}' --clients 2 "${C[@]}"
  bench buzonpg deliver-1n deliver --target @LMTP@ --users "$DELIVER_USERS" --clients 8 --size 10240 "${C[@]}"
  bench_two deliver-2n deliver --target "127.0.0.1:$P_LMTP" --users "$DELIVER_USERS" --clients 4 --size 10240 "${C[@]}" \
    -- deliver --target "127.0.0.1:$Q_LMTP" --users "$DELIVER_USERS" --clients 4 --size 10240 "${C[@]}"
done
kill "$BUZONPG2_PID" 2>/dev/null || true
wait "$BUZONPG2_PID" 2>/dev/null || true
BUZONPG2_PID=""

# Memory given back after a burst (Buzón; one run): a fresh process, every burst user
# logged in and out once (what it keeps for good: the auth cache), then IDLE_B sessions
# logged in at once and closed, a RETR run, and RSS each second for a minute.
log "memory after a burst (Buzón)"
kill "$BUZON_PID"; wait "$BUZON_PID" 2>/dev/null || true
start_buzon
bench buzon burst burst --target @POP3@ --users "user{00001..$(printf '%05d' "$IDLE_B")}" --sessions "$IDLE_B" --warm "${BURST[@]}" --server-pid @PID@ --duration 1800 --timeout 120

# Per-session memory is the marginal cost: every session user logs in and out once
# (--warm) before the baseline, so one-time costs (auth caches, allocator pools,
# password-hashing scratch memory) are not counted per session.
log "idle sessions (one run per server)"
for s in dovecot buzon buzonpg; do
  n=$IDLE_B; [ "$s" = dovecot ] && n=$IDLE_D
  bench "$s" idle idle --warm --target @POP3@ --users "user{00001..$(printf '%05d' "$n")}" --sessions "$n" --server-pid @PID@ --hold "$HOLD" --duration 1800 --timeout 120
done

summarize
