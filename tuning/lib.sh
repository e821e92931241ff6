# shellcheck shell=bash
# Functions shared by the tuning profiles' apply.sh and verify.sh. Sourced, not run.

# Prints "key<TAB>value" for each setting of a sysctl.d file, white space folded (comments
# and blanks skipped; a leading '-', systemd-sysctl's "ignore errors", dropped).
sysctl_settings() {
    local line key value
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line#"${line%%[![:space:]]*}"}
        [[ -z $line || $line == '#'* || $line == ';'* ]] && continue
        key=${line%%=*}
        value=${line#*=}
        key=${key%"${key##*[![:space:]]}"}
        key=${key#-}
        value=$(tr -s ' \t' ' ' <<<"$value")
        value=${value#"${value%%[![:space:]]*}"}
        value=${value%"${value##*[![:space:]]}"}
        printf '%s\t%s\n' "$key" "$value"
    done <"$1"
}

# Current value of sysctl $1 with white space folded; fails if this kernel lacks it.
sysctl_current() {
    local path="/proc/sys/${1//.//}"
    [[ -r $path ]] || return 1
    tr -s ' \t' ' ' <"$path"
}

# Interfaces named by $1: a comma-separated list, or "auto" for every interface backed by a
# device (not lo, bridges, tunnels). One per line.
nic_list() {
    local dev
    if [[ $1 == auto ]]; then
        for dev in /sys/class/net/*/device; do
            [[ -e $dev ]] && basename "$(dirname "$dev")"
        done
    else
        tr ',' '\n' <<<"$1" | sed '/^$/d'
    fi
    return 0
}

# IRQ numbers of interface $1, one per line: its device's MSI/MSI-X vectors, else the
# /proc/interrupts lines named after it (e.g. "eth0", "eth0-rx-0", "eth0-TxRx-1").
nic_irqs() {
    local nic=$1 dev="/sys/class/net/$1/device"
    if [[ -d $dev/msi_irqs ]]; then
        ls "$dev/msi_irqs"
        return
    fi
    # virtio-net: the vectors belong to the PCI device one level up.
    if [[ $(basename "$(readlink -f "$dev" 2>/dev/null || true)") == virtio* && -d $dev/../msi_irqs ]]; then
        ls "$dev/../msi_irqs"
        return
    fi
    awk -v nic="$nic" '
        NR > 1 && ($NF == nic || index($NF, nic "-") == 1 || index($NF, nic "_") == 1) {
            sub(":", "", $1); print $1
        }' /proc/interrupts
}

# Name /proc/interrupts gives IRQ $1 (its last column), or "?".
irq_name() {
    awk -v irq="$1:" '$1 == irq { print $NF; found = 1 } END { if (!found) print "?" }' /proc/interrupts
}
