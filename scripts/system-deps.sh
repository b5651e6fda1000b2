#!/usr/bin/env bash
# Install the Debian packages the tests and the synthetic-data renderer need, if missing.
# Needs root (CI runs as root) or sudo. Safe to re-run.
set -euo pipefail
pkgs=(fonts-roadgeek fonts-opendin fonts-wqy-microhei mosquitto mosquitto-clients postgresql libzmq3-dev chromium shellcheck)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the services on install; the tests start their own throwaway instances instead. Only
# the ones installed just now are stopped: a broker or database the user already ran stays up.
for s in "${missing[@]}"; do
    case "$s" in mosquitto | postgresql) $SUDO service "$s" stop >/dev/null 2>&1 || true ;; esac
done
