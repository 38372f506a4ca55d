#!/usr/bin/env bash
# README command 1: set up, build, and run epmdnsd in the foreground on its
# built-in default (the bundled zone erl.internal. on 127.0.0.1:8053).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/server/epmdnsd "$@"
