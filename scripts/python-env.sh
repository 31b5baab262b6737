#!/usr/bin/env bash
# Creates (if missing) the Python virtualenv used by the emulator's SDK conformance tests and
# installs the pinned requirements from tests/sdk/requirements.txt. Idempotent: a stamp file
# holding a hash of the requirements lets a second run skip pip entirely.
#
# The venv lives under ${BRICKWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brickwarden}/venv.
# The last line printed on stdout is the venv's python interpreter; everything else goes to
# stderr so callers can use `python="$(scripts/python-env.sh | tail -n1)"`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo_root/tests/sdk/requirements.txt"
cache_dir="${BRICKWARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/brickwarden}"
venv="$cache_dir/venv"
stamp="$venv/.brickwarden-requirements.sha256"
python_bin="$venv/bin/python"

log() { echo "python-env: $*" >&2; }

if [[ ! -f "$requirements" ]]; then
    log "missing $requirements"
    exit 1
fi

base_python="${PYTHON:-}"
if [[ -z "$base_python" ]]; then
    for candidate in python3 python; do
        if command -v "$candidate" >/dev/null 2>&1; then
            base_python="$(command -v "$candidate")"
            break
        fi
    done
fi

wanted="$( (cat "$requirements"; echo "python=$("${base_python:-python3}" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null || true)") | sha256sum | cut -d' ' -f1)"

if [[ -x "$python_bin" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "$python_bin"
    exit 0
fi

if [[ -z "$base_python" ]]; then
    log "no python3 found on PATH (set PYTHON=/path/to/python3)"
    exit 1
fi

mkdir -p "$cache_dir"
if [[ ! -x "$python_bin" ]]; then
    log "creating virtualenv at $venv"
    if ! "$base_python" -m venv "$venv" >&2; then
        log "'$base_python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
        rm -rf "$venv"
        exit 1
    fi
fi

log "installing $(grep -cv '^\s*\(#\|$\)' "$requirements") pinned requirements"
"$python_bin" -m pip install --disable-pip-version-check --quiet --upgrade pip >&2 || true
"$python_bin" -m pip install --disable-pip-version-check --quiet -r "$requirements" >&2
"$python_bin" -c 'import databricks.sdk, pytest, requests, azure.mgmt.databricks, azure.mgmt.monitor' >&2
echo "$wanted" >"$stamp"
echo "$python_bin"
