#!/usr/bin/env bash
# Services for the tests: Mosquitto and PostgreSQL.
#
#   scripts/services.sh start   install the Debian packages if missing and check the binaries run
#   scripts/services.sh stop    nothing to stop (see below)
#
# The tests never use a shared, long-lived broker or database: tests/bridge/conftest.py starts
# throwaway instances itself (Mosquitto on a free loopback port, PostgreSQL initialised under pytest's
# tmp dir, run as the `postgres` user when we are root because PostgreSQL refuses to run as root) and
# stops them when the test ends, so no test depends on state left by another run. Debian starts the
# system services on install; they are stopped here so they do not hold the default ports.
set -euo pipefail

pg_bin() {
    command -v "$1" 2>/dev/null && return
    ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1
}

case "${1:-start}" in
    start)
        missing=()
        command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto mosquitto-clients)
        [ -n "$(pg_bin initdb)" ] || missing+=(postgresql)
        if [ ${#missing[@]} -gt 0 ]; then
            SUDO=""
            [ "$(id -u)" -eq 0 ] || SUDO="sudo"
            export DEBIAN_FRONTEND=noninteractive
            $SUDO apt-get update -qq
            $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
            for s in mosquitto postgresql; do $SUDO service "$s" stop >/dev/null 2>&1 || true; done
        fi
        PATH="$PATH:/usr/sbin"
        echo "services: $(mosquitto -h 2>/dev/null | head -n 1 || true)"
        echo "services: $("$(pg_bin initdb)" --version)"
        if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
            echo "services: running as root but there is no 'postgres' user to run PostgreSQL" >&2
            exit 1
        fi
        ;;
    stop)
        # Each test fixture stops the instances it started; nothing is left running here.
        ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
