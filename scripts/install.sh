#!/usr/bin/env bash
# Installs Companion on a fresh Debian 12/13 machine with Python 3.11: the Debian
# packages it needs (only those missing; sudo when not root), then a virtual
# environment in .venv with the project. `--test` adds what the test suite needs.
# The README's two commands and .ci/run use it; it assumes nothing else installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PIP_PROGRESS_BAR=off

# OpenCV's (and so MediaPipe's) runtime libraries; espeak-ng, the program that
# gives the spoken answers' voice its phonemes.
packages=(libgl1 libglib2.0-0 espeak-ng)
extra=""
if [ "${1:-}" = "--test" ]; then
  # OpenCV's Haar cascades (the independent face check), Chromium for the phone
  # app's browser tests, espeak-ng and sox for spoken test media; PostgreSQL 15 (its
  # initdb/pg_ctl) for the memory store tests, which start a throw-away cluster; Redis 7
  # (redis-server) for the bus tests, which start their own on loopback.
  packages+=(opencv-data chromium espeak-ng sox postgresql redis-server)
  extra="[test]"
fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e ".${extra}"
# Smart Turn v3.2 (edge/audio/smart_turn.py) is a file inside the pipecat-ai wheel; only the
# file is read. pipecat-ai's own requirements would move pinned packages (protobuf 7 -> 6)
# and add numba, so it is installed without them.
.venv/bin/pip install -q --no-deps "pipecat-ai==1.14.0"
