#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 180) on stable Rust via RUSTC_BOOTSTRAP.
# New inputs go to corpus/<target> (ignored by git); the committed seeds/ are read only.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(message framer uri sdp shard)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  seeds="seeds/message"
  [ -d "seeds/$t" ] && seeds="seeds/$t"
  echo "== $t for ${secs}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir "$PWD" "$t" "corpus/$t" "$seeds" -- \
    -max_total_time="$secs" -max_len=8192 -print_final_stats=1
done
