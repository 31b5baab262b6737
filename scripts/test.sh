#!/usr/bin/env bash
# Runs every test brickwarden has, on a fresh machine with only Rust, Go and Python installed.
# Everything the tests need (the Kubernetes control plane and promtool built from Go modules, the
# Python databricks-sdk virtualenv) is built or installed by the project's own scripts and cached
# under ${XDG_CACHE_HOME:-~/.cache}/brickwarden, so a second run starts at once.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system tools (openssl for test certificates, curl for the CLI tests)"
missing=()
for tool in openssl curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}"
fi

step "formatting"
cargo fmt --all -- --check

step "control plane (etcd, kube-apiserver, kubectl, helm, promtool) from Go modules"
BRICKWARDEN_CONTROLPLANE_BIN_DIR=$(tests/controlplane/build.sh | tail -n 1)
export BRICKWARDEN_CONTROLPLANE_BIN_DIR

step "Python virtualenv with the official databricks-sdk"
BRICKWARDEN_PYTHON=$(scripts/python-env.sh | tail -n 1)
export BRICKWARDEN_PYTHON

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# The control-plane tests start real etcd/kube-apiserver processes; two at once fit 2 cores.
# --workspace --all-targets: every unit and integration test of the product and the emulator
# crate (neither has doctests).
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --all-targets -- --test-threads=2 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
