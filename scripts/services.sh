#!/usr/bin/env bash
# Install (Debian packages) and start / stop the services the tests use. Filled in by the bridge work.
set -euo pipefail
case "${1:-start}" in
    start) ;;
    stop) ;;
esac
