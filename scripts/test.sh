#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs the whole suite.
#   bash scripts/test.sh            # everything
#   bash scripts/test.sh -k queue   # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  python3 -m venv .venv
fi
echo "== installing heldout with its test extra"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"

echo "== ruff"
.venv/bin/ruff check heldout tests bench

echo "== benchmarks whose figures CI prints"
.venv/bin/python bench/bench_stats.py

echo "== pytest"
exec .venv/bin/python -m pytest -q -p no:cacheprovider --durations=15 "$@"
