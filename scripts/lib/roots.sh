# Shared by scripts/build-wheels.sh and scripts/test-aarch64.sh (sourced, not run): Debian roots made by
# debootstrap OUTSIDE the repository, entered with chroot, with /proc, /dev and the repository mounted in.
# Roots live in $ALPR_ROOTS (default /work/roots, or ~/.cache/alpr-roots where /work is not writable); each
# is finished by a marker file, so a half-made root is made again and a finished one is reused.
# shellcheck shell=bash

ALPR_MIRROR="${ALPR_MIRROR:-http://deb.debian.org/debian}"
if [ -z "${ALPR_ROOTS:-}" ]; then
    if [ -w /work ]; then ALPR_ROOTS=/work/roots; else ALPR_ROOTS="$HOME/.cache/alpr-roots"; fi
fi
export ALPR_ROOTS
_ALPR_MOUNTS=()

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "FAIL: $*"
    exit 1
}

# newest FILE...: the most recently modified of the existing FILEs (empty if none).
newest() {
    local f best=""
    for f in "$@"; do
        if [ -f "$f" ] && { [ -z "$best" ] || [ "$f" -nt "$best" ]; }; then best="$f"; fi
    done
    printf '%s' "$best"
}

need_root() {
    [ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mount)"
}

# Host packages (Debian): installed when missing, like scripts/system-deps.sh.
host_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing host packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# mount_in ROOT: /proc, /dev and resolv.conf inside ROOT; undone by unmount_all (run on EXIT).
mount_in() {
    local r="$1" d
    # No /sys: onnxruntime's cpuinfo, run as aarch64 under qemu-user, segfaults reading the x86 host's
    # /sys/devices/system/cpu (seen); without it, it warns and falls back.
    for d in proc dev; do
        mkdir -p "$r/$d"
        if ! mountpoint -q "$r/$d"; then
            case "$d" in
            proc) mount -t proc proc "$r/proc" ;;
            dev) mount --bind /dev "$r/dev" ;;
            esac
            _ALPR_MOUNTS+=("$r/$d")
        fi
    done
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
    # The host's CA bundle (it may hold a site's TLS proxy certificate) for pip and cargo inside.
    mkdir -p "$r/etc/ssl/certs"
    cp -L "${ALPR_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$r/etc/ssl/certs/alpr-host-ca.crt"
}

# bind_in SRC ROOT DEST: bind-mount the host folder SRC at DEST inside ROOT.
bind_in() {
    local src="$1" dest="$2/$3"
    mkdir -p "$dest"
    mountpoint -q "$dest" || {
        mount --bind "$src" "$dest"
        _ALPR_MOUNTS+=("$dest")
    }
}

unmount_all() {
    local i
    for ((i = ${#_ALPR_MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${_ALPR_MOUNTS[$i]}" 2>/dev/null || true; done
    _ALPR_MOUNTS=()
}

# in_root ROOT CMD...: run CMD in ROOT with a clean environment (a login-like PATH, C.UTF-8).
in_root() {
    local r="$1"
    shift
    chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        PIP_CERT=/etc/ssl/certs/alpr-host-ca.crt CARGO_HTTP_CAINFO=/etc/ssl/certs/alpr-host-ca.crt \
        SSL_CERT_FILE=/etc/ssl/certs/alpr-host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "$@"
}

# aarch64 binaries run through qemu-user via binfmt_misc. Without the F flag the kernel looks the
# interpreter up inside the chroot, so it is copied to the same path there.
ensure_binfmt_aarch64() {
    local r="$1" entry=/proc/sys/fs/binfmt_misc/qemu-aarch64 interp
    host_pkgs qemu-user-static binfmt-support
    [ -e /proc/sys/fs/binfmt_misc/register ] ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    [ -e "$entry" ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
    [ -e "$entry" ] || die "no binfmt_misc entry for aarch64 (qemu-user-static registers it; needs binfmt_misc)"
    grep -q '^enabled' "$entry" || die "the binfmt_misc aarch64 entry is disabled"
    if ! grep -q '^flags:.*F' "$entry"; then
        interp="$(sed -n 's/^interpreter //p' "$entry")"
        mkdir -p "$r$(dirname "$interp")"
        cp /usr/bin/qemu-aarch64-static "$r$interp"
    fi
}
