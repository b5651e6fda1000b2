#!/usr/bin/env bash
# Build the release artefacts into dist/: abi3 manylinux_2_28 wheels for x86_64 and aarch64 and the sdist.
#
#   sudo bash scripts/build-wheels.sh            # both architectures + sdist
#   ALPR_ARCHES=aarch64 bash scripts/build-wheels.sh
#
# The build runs in a Debian trixie (amd64) root made by debootstrap outside the repository, in
# $ALPR_ROOTS/build-trixie-amd64 (made once, reused): Debian's rustc and cargo (1.85, the crate's
# rust-version), Debian's *arm64* Rust standard library (libstd-rust-dev:arm64, multiarch, the same version
# as the rustc); maturin, auditwheel and the linker from PyPI: zig (the `ziglang` package) through
# `maturin build --zig`, which links against glibc stubs of the policy's version, so that a build root with
# a newer glibc (trixie: 2.41) still gives manylinux_2_28 wheels (Debian's gcc-aarch64-linux-gnu would bind
# pthread_*@GLIBC_2.34 and fail the policy). No rustup target, no internet beyond the Debian archive,
# crates.io and PyPI.
#
# maturin links each wheel with --compatibility manylinux_2_28 --auditwheel check (it fails if the
# extension needs a library or a glibc symbol the policy does not allow, instead of bundling it), and
# scripts/check_wheel.py then checks each wheel again on its own: the ELF machine, the libraries it links
# (DT_NEEDED inside the manylinux whitelist), the newest GLIBC_ symbol version, the bundled models, the
# entry point; `auditwheel show` (PyPA) is printed alongside. Sizes are reported at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
# shellcheck source=scripts/lib/roots.sh
. scripts/lib/roots.sh

POLICY="${ALPR_MANYLINUX:-manylinux_2_28}"
ARCHES="${ALPR_ARCHES:-x86_64 aarch64}"
SUITE=trixie
BR="$ALPR_ROOTS/build-$SUITE-amd64"
MARK="$BR/.alpr-build-root-v1"
MATURIN_VERSION="${ALPR_MATURIN_VERSION:-1.16.0}"

need_root
[ "$(uname -m)" = x86_64 ] || die "the build root is amd64: run this on an x86_64 machine"
host_pkgs debootstrap
mkdir -p "$ALPR_ROOTS" dist
trap unmount_all EXIT

if [ ! -e "$MARK" ]; then
    log "making the build root $BR (Debian $SUITE, once)"
    if [ ! -x "$BR/usr/bin/apt-get" ]; then
        rm -rf "$BR"
        nice -n 10 debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$BR" "$ALPR_MIRROR" >&2
    fi
    mount_in "$BR"
    in_root "$BR" dpkg --add-architecture arm64
    in_root "$BR" apt-get update -qq
    in_root "$BR" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        rustc cargo libstd-rust-dev libstd-rust-dev:arm64 gcc libc6-dev binutils python3 python3-venv \
        patchelf >/dev/null
    in_root "$BR" python3 -m venv /opt/wheeltools
    in_root "$BR" /opt/wheeltools/bin/pip install -q "maturin==$MATURIN_VERSION" "auditwheel>=6" "ziglang>=0.13"
    touch "$MARK"
fi
mount_in "$BR"
bind_in "$REPO" "$BR" /src
log "build root: $(in_root "$BR" rustc --version), $(in_root "$BR" /opt/wheeltools/bin/maturin --version), \
zig $(in_root "$BR" /opt/wheeltools/bin/python -m ziglang version)"
in_root "$BR" ls /usr/lib/rustlib/aarch64-unknown-linux-gnu/lib >/dev/null ||
    die "no arm64 Rust standard library in the build root"

# The build itself: the target folder and the crates cache stay in the root, outside the repository.
build() {
    local triple="$1" started=$SECONDS
    shift
    log "maturin build $triple ($POLICY)"
    in_root "$BR" env CARGO_HOME=/var/cache/cargo CARGO_TARGET_DIR=/var/cache/alpr-target \
        PATH=/opt/wheeltools/bin:/usr/bin:/bin "$@" \
        sh -c "cd /src && nice -n 10 maturin build --release --zig --target $triple \
            --compatibility $POLICY --auditwheel check --out /src/dist/.new"
    log "built $triple in $((SECONDS - started)) s"
}

rm -rf dist/.new
mkdir -p dist/.new
for arch in $ARCHES; do
    case "$arch" in
    x86_64) build x86_64-unknown-linux-gnu ;;
    aarch64) build aarch64-unknown-linux-gnu ;;
    *) die "unknown architecture $arch (x86_64, aarch64)" ;;
    esac
done
log "maturin sdist"
in_root "$BR" sh -c "cd /src && /opt/wheeltools/bin/maturin sdist --out /src/dist/.new" >&2

# Replace this version's artefacts in dist/ with the new ones only once all of them were built.
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
for f in dist/.new/*; do
    base="$(basename "$f")"
    case "$base" in
    *.whl) rm -f "dist/alpr_engine-$version-"*"-${base##*-}" ;;
    esac
    mv -f "$f" dist/
done
rmdir dist/.new

wheels=()
for arch in $ARCHES; do
    w="$(newest dist/alpr_engine-"$version"-*"$arch".whl)"
    [ -n "$w" ] || die "no $arch wheel in dist/"
    wheels+=("$w")
    log "auditwheel show $w"
    in_root "$BR" /opt/wheeltools/bin/auditwheel show "/src/$w" >&2 || die "auditwheel show failed on $w"
done
in_root "$BR" /opt/wheeltools/bin/python /src/scripts/check_wheel.py --policy "$POLICY" \
    "${wheels[@]/#//src/}" || die "wheel check failed"
stat -c '%10s bytes  %n' dist/alpr_engine-"$version"*
log "OK: ${wheels[*]} and dist/alpr_engine-$version.tar.gz"
