#!/usr/bin/env bash
# Shows whether Drongo's 2-core tuning is in force: each setting of the sysctl file, current
# value against expected; the counters that tell whether it is enough; NIC interrupt
# placement; and, if drongo runs, its CPU affinity per thread, limits and socket buffers.
#
# usage: verify.sh [--irq-nic IFACES] [SYSCTL_FILE]
#
#   SYSCTL_FILE      default 99-drongo.conf beside this script
#   --irq-nic IFACES comma-separated interfaces whose interrupt placement to show, or "auto"
#                    for every interface backed by a device; default $DRONGO_IRQ_NIC, else none
#
# Needs no root. Exit status: 0 every setting matches, 1 one differs, 2 usage error.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"
sysctl_file="$here/99-drongo.conf"
irq_nic=${DRONGO_IRQ_NIC:-}

# Prints the usage comment above; to stdout for --help (status 0), else to stderr.
usage() {
    local status=${1:-2}
    if ((status == 0)); then
        sed -n '6,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    else
        sed -n '6,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    fi
    exit "$status"
}

while (($# > 0)); do
    case $1 in
        --irq-nic) (($# > 1)) || usage; irq_nic=$2; shift ;;
        -h | --help) usage 0 ;;
        -*) echo "verify.sh: unknown option $1" >&2; usage ;;
        *) sysctl_file=$1 ;;
    esac
    shift
done
[[ -r $sysctl_file ]] || { echo "verify.sh: cannot read $sysctl_file" >&2; exit 2; }

# Column 2 of /proc/<pid>/status line $2 (e.g. Cpus_allowed_list) for status file $1.
status_field() {
    awk -v field="$2:" '$1 == field { print $2 }' "$1"
}

mismatches=0
echo "== sysctl ($sysctl_file)"
printf '%-30s %-24s %-24s %s\n' KNOB EXPECTED CURRENT ""
while IFS=$'\t' read -r key expected; do
    now=$(sysctl_current "$key") || now="(not on this kernel)"
    if [[ $now == "$expected" ]]; then
        verdict=ok
    else
        verdict=DIFFERS
        mismatches=1
    fi
    printf '%-30s %-24s %-24s %s\n' "$key" "$expected" "$now" "$verdict"
done < <(sysctl_settings "$sysctl_file")

echo
echo "== drop counters since boot (should stay flat under load)"
# /proc/net/snmp: a "Udp:" line of names, then a "Udp:" line of values.
awk '$1 == "Udp:" && !names { for (i = 2; i <= NF; i++) name[i] = $i; names = 1; next }
     $1 == "Udp:" { for (i = 2; i <= NF; i++)
                      if (name[i] ~ /^(InErrors|RcvbufErrors|SndbufErrors)$/)
                          printf "udp %-14s %s\n", name[i], $i }' /proc/net/snmp
# /proc/net/softnet_stat: one line per CPU, in hex. Column 2 counts drops for a full
# netdev_max_backlog; column 3 softirq runs that ended with work left (netdev_budget).
cpu=0
while read -r _ dropped squeezed _; do
    printf 'cpu%-3s dropped %-8d time_squeeze %d\n' "$cpu" "$((16#$dropped))" "$((16#$squeezed))"
    cpu=$((cpu + 1))
done </proc/net/softnet_stat

if [[ -n $irq_nic ]]; then
    echo
    echo "== NIC interrupts"
    while read -r nic; do
        [[ -e /sys/class/net/$nic ]] || { echo "$nic: no such interface"; continue; }
        mapfile -t irqs < <(nic_irqs "$nic")
        ((${#irqs[@]} > 0)) || echo "$nic: no interrupts of its own found"
        for irq in "${irqs[@]}"; do
            [[ -r /proc/irq/$irq/smp_affinity_list ]] || continue
            printf '%-10s IRQ %-5s %-22s CPU %s\n' "$nic" "$irq" "$(irq_name "$irq")" \
                "$(<"/proc/irq/$irq/smp_affinity_list")"
        done
        for rps in /sys/class/net/"$nic"/queues/rx-*/rps_cpus; do
            [[ -r $rps ]] || continue
            echo "$nic $(basename "$(dirname "$rps")") rps_cpus $(<"$rps") (0: packets stay on the IRQ CPU)"
        done
    done < <(nic_list "$irq_nic")
    if pgrep -x irqbalance >/dev/null 2>&1; then
        echo "note: irqbalance is running and may move interrupts"
    fi
fi

echo
echo "== drongo process"
mapfile -t pids < <(pgrep -x drongo || true)
((${#pids[@]} > 0)) || echo "drongo is not running"
for pid in "${pids[@]}"; do
    echo "pid $pid: allowed CPUs $(status_field "/proc/$pid/status" Cpus_allowed_list)"
    for task in /proc/"$pid"/task/*; do
        # stat field 39 is the CPU it last ran on: the 37th after the parenthesised name.
        printf '  thread %-8s %-16s allowed CPUs %-6s last on CPU %s\n' "${task##*/}" \
            "$(<"$task/comm")" "$(status_field "$task/status" Cpus_allowed_list)" \
            "$(sed 's/.*) //' "$task/stat" | awk '{ print $37 }')"
    done
    grep -E '^Max (locked memory|open files)' "/proc/$pid/limits" | sed 's/^/  /'
    if command -v ss >/dev/null; then
        # skmem: rb is the receive buffer granted (twice udp.recv_buffer), d the drops.
        ss -H -u -a -n -m -p 2>/dev/null | grep -A1 "pid=$pid," | sed 's/^/  /' || true
    fi
done

exit "$mismatches"
