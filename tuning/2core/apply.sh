#!/usr/bin/env bash
# Applies Drongo's 2-core tuning profile: every setting of the sysctl file, then, if asked,
# steers the interrupts of the named NICs to the housekeeping CPU (CPU 0), away from the shard.
#
# usage: apply.sh [--dry-run] [--install] [--irq-nic IFACES] [--irq-cpus CPUS] [SYSCTL_FILE]
#
#   SYSCTL_FILE      sysctl.d file to apply; default 99-drongo.conf beside this script
#   --install        also copy it to /etc/sysctl.d/99-drongo.conf, so boot applies it too
#   --irq-nic IFACES comma-separated interfaces whose IRQs to steer, or "auto" for every
#                    interface backed by a device; default $DRONGO_IRQ_NIC, else none
#   --irq-cpus CPUS  CPU list for those IRQs (smp_affinity_list syntax); default
#                    $DRONGO_IRQ_CPUS, else 0
#   --dry-run        print what would change; change nothing (no root needed)
#
# Exit status: 0 all applied, 1 a setting could not be applied, 2 usage error.
# Interfaces that do not exist or have no IRQs of their own are reported and skipped.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"
sysctl_file="$here/99-drongo.conf"
install=no
dry_run=no
irq_nic=${DRONGO_IRQ_NIC:-}
irq_cpus=${DRONGO_IRQ_CPUS:-0}

# Prints the usage comment above; to stdout for --help (status 0), else to stderr.
usage() {
    local status=${1:-2}
    if ((status == 0)); then
        sed -n '5,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    else
        sed -n '5,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    fi
    exit "$status"
}

while (($# > 0)); do
    case $1 in
        --dry-run) dry_run=yes ;;
        --install) install=yes ;;
        --irq-nic) (($# > 1)) || usage; irq_nic=$2; shift ;;
        --irq-cpus) (($# > 1)) || usage; irq_cpus=$2; shift ;;
        -h | --help) usage 0 ;;
        -*) echo "apply.sh: unknown option $1" >&2; usage ;;
        *) sysctl_file=$1 ;;
    esac
    shift
done

[[ -r $sysctl_file ]] || { echo "apply.sh: cannot read $sysctl_file" >&2; exit 2; }
[[ $irq_cpus =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] \
    || { echo "apply.sh: --irq-cpus: not a CPU list: $irq_cpus" >&2; exit 2; }
if [[ $dry_run == no && $EUID -ne 0 ]]; then
    echo "apply.sh: must run as root (or with --dry-run)" >&2
    exit 2
fi

failed=0

echo "sysctl settings from $sysctl_file:"
while IFS=$'\t' read -r key value; do
    if ! before=$(sysctl_current "$key"); then
        echo "  $key: not known to this kernel" >&2
        failed=1
        continue
    fi
    if [[ $before == "$value" ]]; then
        echo "  $key = $value (already)"
    elif [[ $dry_run == yes ]]; then
        echo "  $key = $value (now $before; would set)"
    elif sysctl -q -w "$key=$value" >/dev/null; then
        echo "  $key = $value (was $before)"
    else
        echo "  $key: could not set $value" >&2
        failed=1
    fi
done < <(sysctl_settings "$sysctl_file")

if [[ $install == yes ]]; then
    if [[ $dry_run == yes ]]; then
        echo "would install $sysctl_file as /etc/sysctl.d/99-drongo.conf"
    else
        install -D -m 0644 "$sysctl_file" /etc/sysctl.d/99-drongo.conf
        echo "installed /etc/sysctl.d/99-drongo.conf (applied at every boot)"
    fi
fi

if [[ -n $irq_nic ]]; then
    mapfile -t nics < <(nic_list "$irq_nic")
    echo "NIC interrupts to CPU $irq_cpus:"
    ((${#nics[@]} > 0)) || echo "  no interface backed by a device; nothing to steer"
    for nic in "${nics[@]}"; do
        if [[ ! -e /sys/class/net/$nic ]]; then
            echo "  $nic: no such interface; skipped"
            continue
        fi
        mapfile -t irqs < <(nic_irqs "$nic")
        if ((${#irqs[@]} == 0)); then
            echo "  $nic: no interrupts of its own found; skipped"
            continue
        fi
        for irq in "${irqs[@]}"; do
            file="/proc/irq/$irq/smp_affinity_list"
            [[ -e $file ]] || continue
            before=$(<"$file")
            if [[ $dry_run == yes ]]; then
                echo "  $nic IRQ $irq: CPU $before (would set $irq_cpus)"
            elif echo "$irq_cpus" 2>/dev/null >"$file"; then
                echo "  $nic IRQ $irq: CPU $irq_cpus (was $before)"
            else
                # Kernel-managed vectors (many multi-queue drivers) refuse affinity changes.
                echo "  $nic IRQ $irq: kernel refused (managed interrupt); left on CPU $before"
            fi
        done
    done
    if pgrep -x irqbalance >/dev/null 2>&1; then
        echo "warning: irqbalance is running and may move these interrupts back; stop it or set" \
            "IRQBALANCE_BANNED_CPULIST to the shard CPUs" >&2
    fi
fi

exit "$failed"
