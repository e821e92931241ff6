#!/usr/bin/env bash
# Registrar and proxy under SIPp load on loopback, Drongo and Kamailio side by side.
#
#   bench/sipp-calls.sh calls    [RATE] [SECONDS] [TRANSPORT]   defaults: 2000 10 u1
#   bench/sipp-calls.sh register [RATE] [SECONDS]               defaults: 10000 10
#   bench/sipp-calls.sh memory   [AORS]                         default:  100000
#   bench/sipp-calls.sh maxrate  calls|register                 steps up until a failure
#
# calls: a SIPp UAS registers as `uas`, then a SIPp UAC places RATE calls a second for
#   SECONDS through the server (INVITE, 100, 180, 200, ACK, 1 s of call, BYE, 200; ACK and BYE
#   follow the Record-Route). Prints server CPU per completed call.
# register: RATE REGISTERs a second, each for a new AoR. Prints server CPU per REGISTER.
# memory: registers AORS new AoRs (at 5 000/s), waits until every REGISTER transaction has
#   ended (Timer J, 32 s), and prints the growth of the server's PSS per registration.
# maxrate: 10 s runs at rising rates; prints the highest rate with no failed call or REGISTER.
#
# Each server runs pinned to CPU ${SERVER_CPU:-1} (Drongo: one shard; Kamailio 5.6 from
# Debian: bench/peers/kamailio.cfg, tlsf allocator, 2 UDP and 2 TCP workers); every SIPp runs
# on CPU ${LOAD_CPU:-0}. Server CPU is utime + stime from /proc, summed over the server's
# threads or processes, read before and after the load, which follows WARM_SECS (default 35)
# of the same load so that both servers are in their steady state. KAMAILIO=0 skips Kamailio;
# DRONGO_TOML adds lines to the end of Drongo's configuration (e.g. "[udp]\npace_us = 0").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/sipp-lib.sh

mode=${1:-calls}
transport=u1
case "$mode" in
  calls) rate=${2:-2000}; secs=${3:-10}; transport=${4:-u1} ;;
  register) rate=${2:-10000}; secs=${3:-10} ;;
  memory) aors=${2:-100000} ;;
  maxrate) what=${2:-calls} ;;
  *) echo "usage: $0 calls|register|memory|maxrate ..." >&2; exit 2 ;;
esac

install_peers
cargo build --release -q
servers=(drongo)
[ "$with_kamailio" = 1 ] && servers+=(kamailio)
run_id=$$
warm_secs=${WARM_SECS:-35}

# Starts SERVER on a free port; sets port and spids.
start() {
  port=$(free_port)
  case "$1" in
    drongo) start_drongo "$port" "${DRONGO_TOML:-}"; spids=$dpid ;;
    kamailio) start_kamailio "$port"; spids=$kpids ;;
  esac
}

# sipp_run NAME SCENARIO COUNT RATE [ARGS...]: runs a SIPp client against the server on
# $port and leaves its statistics in $work/NAME.csv.
sipp_run() {
  local name=$1 scenario=$2 count=$3 r=$4
  shift 4
  rm -f "$work/$name.csv"
  taskset -c "$load_cpu" sipp "127.0.0.1:$port" -sf "bench/sipp/$scenario" -t "$transport" \
    -i 127.0.0.1 -p 0 -max_socket 4096 -buff_size 4194304 -m "$count" -r "$r" \
    -timeout $((count / r * 3 + 40))s -nostdin -trace_stat -stf "$work/$name.csv" "$@" \
    >/dev/null 2>&1 || true
}

# A SIPp UAS answering calls; registers itself as `uas` with the server.
start_uas() {
  local uport
  uport=$(free_port)
  taskset -c "$load_cpu" sipp -sf bench/sipp/uas.xml -t "$transport" -i 127.0.0.1 -p "$uport" \
    -max_socket 4096 -buff_size 4194304 -nostdin >/dev/null 2>&1 &
  pids+=("$!")
  sleep 0.5
  sipp_run reg_uas reg_uas.xml 1 1 -key aor_user uas -key contact_hostport "127.0.0.1:$uport"
  [ "$(stat_column "$work/reg_uas.csv" 'SuccessfulCall(C)')" = 1 ] || { echo "the UAS did not register" >&2; exit 1; }
}

uac_calls() { # NAME COUNT RATE
  sipp_run "$1" uac.xml "$2" "$3" -s uas -d 1000 -l $(($3 * 3)) \
    -default_behaviors all,-abortunexp -recv_timeout 10000
}

registers() { # NAME COUNT RATE PREFIX
  sipp_run "$1" reg.xml "$2" "$3" -l $(($3 * 2)) -key upfx "$4"
}

# measure SERVER KIND RATE SECS: prints "us ok failed" for one load.
measure() {
  local server=$1 kind=$2 r=$3 s=$4 before after ok failed
  # Warm up at the measured rate for longer than a transaction lives (Timers J, L and M are
  # 32 s), so the measurement sees the steady state, not tables growing.
  case "$kind" in
    calls) uac_calls warm $((r * warm_secs)) "$r" ;;
    register) registers warm $((r * warm_secs)) "$r" "w$run_id${r}x" ;;
  esac
  before=$(ticks $spids)
  case "$kind" in
    calls) uac_calls load $((r * s)) "$r" ;;
    register) registers load $((r * s)) "$r" "r$run_id${r}x" ;;
  esac
  after=$(ticks $spids)
  ok=$(stat_column "$work/load.csv" 'SuccessfulCall(C)')
  failed=$(stat_column "$work/load.csv" 'FailedCall(C)')
  echo "$(ticks_to_us $((after - before)) "$ok") $ok $failed"
}

ratio() { # DRONGO KAMAILIO WHAT
  awk -v d="$1" -v k="$2" -v w="$3" 'BEGIN { if (d > 0 && k > 0) printf "ratio     Drongo uses %.2fx the %s of Kamailio (%.1fx less)\n", d / k, w, k / d }'
}

declare -A result
case "$mode" in
  calls | register)
    unit=call; [ "$mode" = register ] && unit=REGISTER
    echo "$mode at ${rate}/s for ${secs}s over ${transport}; server on CPU ${server_cpu}, SIPp on CPU ${load_cpu}"
    for server in "${servers[@]}"; do
      start "$server"
      [ "$mode" = calls ] && start_uas
      read -r us ok failed < <(measure "$server" "$mode" "$rate" "$secs")
      printf "%-9s %8s us CPU per %s  (%d completed, %d failed of %d)\n" "$server" "$us" "$unit" "$ok" "$failed" $((rate * secs))
      result[$server]=$us
      cleanup; pids=(); work=$(mktemp -d)
    done
    [ "$with_kamailio" = 1 ] && ratio "${result[drongo]}" "${result[kamailio]}" "CPU per $unit"
    ;;
  memory)
    echo "memory per registration: $aors new AoRs at 5000/s over UDP, PSS after every REGISTER transaction ended"
    for server in "${servers[@]}"; do
      start "$server"
      registers warm 200 200 "w$run_id"
      sleep 35
      before=$(pss $spids)
      registers load "$aors" 5000 "m$run_id"
      ok=$(stat_column "$work/load.csv" 'SuccessfulCall(C)')
      sleep 35
      after=$(pss $spids)
      per=$(( ok > 0 ? (after - before) / ok : 0 ))
      printf "%-9s %6d bytes per registration  (PSS %d -> %d KB, %d registered)\n" "$server" "$per" $((before / 1024)) $((after / 1024)) "$ok"
      result[$server]=$per
      cleanup; pids=(); work=$(mktemp -d)
    done
    [ "$with_kamailio" = 1 ] && ratio "${result[drongo]}" "${result[kamailio]}" "memory per registration"
    ;;
  maxrate)
    case "$what" in
      calls) rates=(2000 4000 6000 8000 9000 10000 12000) ;;
      register) rates=(10000 20000 30000 40000 50000 60000) ;;
      *) echo "maxrate calls|register" >&2; exit 2 ;;
    esac
    echo "highest clean $what rate, 10 s at each rate"
    for server in "${servers[@]}"; do
      best=0
      for r in "${rates[@]}"; do
        start "$server"
        [ "$what" = calls ] && start_uas
        read -r us ok failed < <(measure "$server" "$what" "$r" 10)
        printf "%-9s %6d/s: %d completed, %d failed, %s us CPU each\n" "$server" "$r" "$ok" "$failed" "$us"
        cleanup; pids=(); work=$(mktemp -d)
        if [ "$failed" -eq 0 ] && [ "$ok" -eq $((r * 10)) ]; then best=$r; else break; fi
      done
      printf "%-9s highest clean %s rate: %d/s\n" "$server" "$what" "$best"
    done
    ;;
esac
