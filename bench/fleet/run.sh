#!/usr/bin/env bash
# The fleet benchmark (opt-in, not part of scripts/test.sh): a real control plane (etcd +
# kube-apiserver from tests/controlplane/build.sh), the emulator with 50 ms per request and
# every workspace at a host of its own, N fully drifted DatabricksWorkspaces, and the release
# build of `brickwarden run` with default settings; for each N it measures convergence, a
# compliant resync sweep, requests per workspace, peak RSS, CPU per no-op reconcile and
# `brickwarden plan`. Then bench/fleet/report.py writes the tables into BENCHMARKS.md and the
# plot docs/fleet-benchmark.svg.
#
#   bench/fleet/run.sh                      # N = 10, 100, 1000
#   BENCH_FLEET_SIZES=10,100,1000,5000 bench/fleet/run.sh
#
# The driver is the ignored test `fleet_bench::benchmark` of tests/it (the suite runs the same
# driver at N = 50 as a smoke test). Results: target/bench-fleet/fleet-N.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

log() { printf '==> %s\n' "$*" >&2; }

sizes=${BENCH_FLEET_SIZES:-10,100,1000}
out=${BENCH_FLEET_OUT:-$PWD/target/bench-fleet}
mkdir -p "$out"

log "control plane binaries"
BRICKWARDEN_CONTROLPLANE_BIN_DIR=${BRICKWARDEN_CONTROLPLANE_BIN_DIR:-$(tests/controlplane/build.sh | tail -n 1)}
export BRICKWARDEN_CONTROLPLANE_BIN_DIR

log "plotting environment (matplotlib)"
cache=${BRICKWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brickwarden}
venv="$cache/bench-venv"
stamp="$venv/.requirements.sha256"
want=$(sha256sum bench/fleet/requirements.txt | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/fleet/requirements.txt
  echo "$want" > "$stamp"
fi

log "release build of brickwarden"
cargo build --release --locked --bin brickwarden
export BRICKWARDEN_BENCH_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/brickwarden

# One port per emulated workspace plus its connections: 5000 workspaces need ~11000 files.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "open files limit: $(ulimit -n)"

log "benchmark: N = $sizes"
BENCH_FLEET_SIZES=$sizes BENCH_FLEET_OUT=$out \
  cargo test --release --locked --test it fleet_bench::benchmark -- --ignored --exact --nocapture

log "report"
"$venv/bin/python" bench/fleet/report.py "$out" \
  --command "BENCH_FLEET_SIZES=$sizes bench/fleet/run.sh" \
  --markdown BENCHMARKS.md --plot docs/fleet-benchmark.svg
