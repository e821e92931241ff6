#!/usr/bin/env bash
# Server CPU per OPTIONS under a SIPp load on loopback, Drongo and Kamailio side by side.
#
#   bench/sipp-options.sh [RATE] [SECONDS] [TRANSPORT]      defaults: 10000 10 u1
#
# TRANSPORT is SIPp's: u1 (UDP), t1 (one TCP connection), tn (a TCP connection per call).
#
# Drongo runs one signalling shard pinned to CPU 1; Kamailio 5.6 (Debian, bench/peers/
# kamailio.cfg, tlsf allocator, 2 UDP workers) is pinned to CPU 1 as well; SIPp runs on
# CPU 0. Each server answers RATE*SECONDS OPTIONS; its CPU time (utime + stime from /proc,
# summed over its threads or processes) is read before and after, and divided by the
# requests SIPp saw answered. Prints one line per server (with the OPTIONS a second one core
# answers at that cost: 1 s / CPU per OPTIONS) and the ratio. Installs sip-tester
# and kamailio from Debian when missing (KAMAILIO=0 skips Kamailio).
set -euo pipefail
cd "$(dirname "$0")/.."

. bench/sipp-lib.sh

rate=${1:-10000}
secs=${2:-10}
transport=${3:-u1}
count=$((rate * secs))

install_peers
cargo build --release -q

# Runs the load against 127.0.0.1:$1; prints the count of answered requests.
load() {
  local port=$1 name=$2
  taskset -c "$load_cpu" sipp "127.0.0.1:$port" -sf bench/sipp/options.xml -t "$transport" \
    -i 127.0.0.1 -p 0 -max_socket 4096 -m "$count" -r "$rate" -l $((rate * 2)) -buff_size 4194304 \
    -timeout $((secs * 3 + 30))s -nostdin -trace_stat -stf "$work/$name.csv" >/dev/null 2>&1 || true
  stat_column "$work/$name.csv" 'SuccessfulCall(C)'
}

warm() {
  taskset -c "$load_cpu" sipp "127.0.0.1:$1" -sf bench/sipp/options.xml -t "$transport" -i 127.0.0.1 -p 0 -max_socket 4096 \
    -m 200 -r 200 -timeout 20s -nostdin >/dev/null 2>&1
}

report() { # name ticks answered
  awk -v n="$1" -v t="$2" -v a="$3" -v hz="$hz" -v r="$rate" \
    'BEGIN { us = (a > 0) ? t / hz * 1e6 / a : 0; per_core = (us > 0) ? 1e6 / us : 0; printf "%-9s %7.2f us CPU per OPTIONS = %6.0f OPTIONS/s per core  (%d answered of %d at %d/s)\n", n, us, per_core, a, '"$count"', r; print us > "/dev/stderr" }'
}

echo "OPTIONS at ${rate}/s for ${secs}s over ${transport}; server on CPU ${server_cpu}, SIPp on CPU ${load_cpu}"

port=$(free_port)
start_drongo "$port"
warm "$port"
before=$(ticks "$dpid")
answered=$(load "$port" drongo)
after=$(ticks "$dpid")
report drongo $((after - before)) "$answered" 2>/dev/null
d_us=$(report drongo $((after - before)) "$answered" 2>&1 >/dev/null)

if [ "$with_kamailio" = 1 ]; then
  kport=$(free_port)
  start_kamailio "$kport"
  warm "$kport"
  before=$(ticks $kpids)
  answered=$(load "$kport" kamailio)
  after=$(ticks $kpids)
  report kamailio $((after - before)) "$answered" 2>/dev/null
  k_us=$(report kamailio $((after - before)) "$answered" 2>&1 >/dev/null)
  awk -v d="$d_us" -v k="$k_us" 'BEGIN { if (d > 0) printf "ratio     Drongo uses %.2fx the CPU of Kamailio per OPTIONS (%.1fx less)\n", d / k, k / d }'
fi
