# Shared by the SIPp runners in bench/: installing the peers, free ports, starting Drongo and
# Kamailio pinned to the server CPU, reading a server's CPU time and memory, and stopping
# everything by PID on exit. Sourced, not run.

server_cpu=${SERVER_CPU:-1}
load_cpu=${LOAD_CPU:-0}
with_kamailio=${KAMAILIO:-1}

# Installs sip-tester (and kamailio unless KAMAILIO=0) from Debian when missing.
install_peers() {
  local need=()
  command -v sipp >/dev/null || need+=(sip-tester)
  [ "$with_kamailio" = 1 ] && ! command -v kamailio >/dev/null && need+=(kamailio)
  if [ ${#need[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# CPU ticks (utime + stime) of the given PIDs; a process's stat includes all its threads.
ticks() {
  local total=0 p f
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    f=$(sed 's/^.*) //' "/proc/$p/stat")
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}

# Proportional set size in bytes, summed over the given PIDs.
pss() {
  local total=0 p kb
  for p in "$@"; do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")
    total=$((total + ${kb:-0}))
  done
  echo $((total * 1024))
}

hz=$(getconf CLK_TCK)
# Microseconds of CPU per operation: ticks_to_us TICKS OPERATIONS
ticks_to_us() {
  awk -v t="$1" -v a="$2" -v hz="$hz" 'BEGIN { printf "%.2f", (a > 0) ? t / hz * 1e6 / a : 0 }'
}

# Starts Drongo with one shard on the server CPU, listening on 127.0.0.1:PORT over UDP and
# TCP; EXTRA_TOML is appended to its configuration. Sets dpid.
start_drongo() {
  local port=$1 extra=${2:-}
  cat > "$work/drongo.toml" <<TOML
[log]
level = "warn"
[shards]
cores = [$server_cpu]
[sip]
listen = ["127.0.0.1:$port"]
[tcp]
# Every SIPp connection comes from 127.0.0.1, and with -t tn SIPp holds hundreds open.
max_connections_per_ip = 100000
$extra
TOML
  target/release/drongo run --config "$work/drongo.toml" &
  dpid=$!
  pids+=("$dpid")
  sleep 1
}

# Starts Kamailio 5.6 (bench/peers/kamailio.cfg, tlsf allocator, 2 UDP and 2 TCP workers) on
# the server CPU, listening on 127.0.0.1:PORT. Sets kpids to all its processes.
start_kamailio() {
  local port=$1
  taskset -c "$server_cpu" kamailio -DD -E -f bench/peers/kamailio.cfg -A "LISTEN_PORT=$port" \
    -m 2048 -M 16 -x tlsf -n 2 -N 2 -w "$work" -P "$work/kamailio.pid" >"$work/kamailio.log" 2>&1 &
  pids+=("$!")
  sleep 2
  kpids=$(pgrep -f "LISTEN_PORT=$port" | tr '\n' ' ')
}

# A column of the last line of a SIPp -trace_stat file: stat_column FILE COLUMN
stat_column() {
  awk -F';' -v col="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==col) c=i; next} NF>1{v=$c} END{print v+0}' "$1"
}
