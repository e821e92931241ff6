#!/usr/bin/env bash
# Drongo's test command (the one the README gives, and the one .ci/run calls).
# Installs what the tests need when it is missing (SIPp from Debian's sip-tester), then runs
# every test of the package: unit tests, the conformance corpora, the simulator, loopback
# shards, the SIPp runs against the real binary, and a smoke run of each benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust first (https://rustup.rs), then run this again" >&2
  exit 1
fi

missing=()
command -v sipp >/dev/null || missing+=(sip-tester)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..."
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo test --all-targets "$@"
