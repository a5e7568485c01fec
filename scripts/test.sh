#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs it.
# The README's test command and .ci/run both call exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
# torch 2.13.0 is named first so that pip takes the CPU build on this machine (README, Install).
.venv/bin/pip install -q torch==2.13.0 -e '.[torch,dev,app,tensorboard]'
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  # The browser test drives Debian's Chromium; nothing is downloaded by the test itself.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# Two workers (TEST_WORKERS): each test holds torch to one thread (tests/conftest.py), so two
# share a 2-core machine well: 7.7 min against 12.2 in one process on the Intel VM (2026-11-28).
exec .venv/bin/python -m pytest -q -n "${TEST_WORKERS:-2}" "$@"
