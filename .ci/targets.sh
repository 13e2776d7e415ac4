#!/bin/bash
# The other-targets lane: `cargo check` and clippy (`-D warnings`) of the mmf library for macOS
# (aarch64 and x86_64) and FreeBSD (the POSIX backend), Android (the Linux backend) and
# wasm32-unknown-unknown (the fallback). These are compile checks only: nothing here runs the code on those systems.
# About 4 minutes from scratch on 2 cores (the standard library is built for each target), seconds
# when target/cross is warm.
#
# rustup here has no standard library for those targets and cannot download one, so the lane uses
# Debian's rustc-web 1.96 with its standard library sources and builds std for each target from
# source (`-Zbuild-std`, allowed on a stable compiler by RUSTC_BOOTSTRAP=1). rustc-web conflicts
# with Debian's `rustc` package, which the Windows lane installs, so it is never installed: the
# packages are downloaded and unpacked under target/rust-web/. Background:
# shared/research/platforms-and-bindings.md.
#
# Run it from anywhere as root: `bash .ci/targets.sh`. Environment: MMF_TARGETS overrides the list
# of targets (space-separated); MMF_TARGETS_SKIP_CLIPPY=1 runs `cargo check` only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$SECONDS
prefix=$root/target/rust-web
mkdir -p "$prefix"

# --- toolchain: rustc-web 1.96, unpacked privately -------------------------------------------------
pkgs=(rustc-web cargo-web libstd-rust-web-1.96 libstd-rust-web-dev rust-web-src rust-web-clippy)
apt_retry() { # apt-get with one `apt-get update` and retries (transient archive errors happen)
    local i
    for i in 1 2 3; do
        "$@" >>"$prefix/apt.log" 2>&1 && return 0
        apt-get update -q >>"$prefix/apt.log" 2>&1 || true
        sleep 2
    done
    tail -20 "$prefix/apt.log" >&2
    return 1
}
if ! dpkg-query -W -f='${Status}' libllvm22 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt_retry apt-get install -y -q --no-install-recommends libllvm22
fi
if [ ! -f "$prefix/.unpacked" ]; then
    rm -rf "$prefix/debs" "$prefix/root"
    mkdir -p "$prefix/debs" "$prefix/root"
    have=()
    for p in "${pkgs[@]}"; do
        # Clippy comes as a package of its own where the archive has one; without it, check only.
        if [ "$p" = rust-web-clippy ] && ! apt-cache show "$p" >/dev/null 2>&1; then
            continue
        fi
        have+=("$p")
    done
    (cd "$prefix/debs" && apt_retry apt-get download "${have[@]}")
    for deb in "$prefix"/debs/*.deb; do
        dpkg -x "$deb" "$prefix/root"
    done
    touch "$prefix/.unpacked"
fi
echo "targets lane: toolchain ready ($((SECONDS - t0)) s)"

# --- environment: this toolchain only --------------------------------------------------------------
usr=$prefix/root/usr
export PATH=$usr/bin:$PATH
export LD_LIBRARY_PATH=$usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export RUSTC=$usr/bin/rustc RUSTDOC=$usr/bin/rustdoc CARGO=$usr/bin/cargo
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTFLAGS CARGO_BUILD_TARGET
export RUSTC_BOOTSTRAP=1 # -Zbuild-std on a stable compiler
src=$(ls -d "$usr"/src/rustc-*/library | head -1)
export __CARGO_TESTS_ONLY_SRC_ROOT=$src # where cargo finds the standard library's sources
export CARGO_TARGET_DIR=$root/target/cross # never share fingerprints with the main toolchain
export CARGO_TERM_COLOR=never
"$usr/bin/rustc" --version

# --- the checks ------------------------------------------------------------------------------------
# clippy is `cargo check` with lints on top: one pass gives both.
# shellcheck disable=SC2206 # MMF_TARGETS is split on purpose
targets=(${MMF_TARGETS:-aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd wasm32-unknown-unknown aarch64-linux-android})
if [ "${MMF_TARGETS_SKIP_CLIPPY:-0}" = 1 ] || [ ! -x "$usr/bin/cargo-clippy" ]; then
    [ -x "$usr/bin/cargo-clippy" ] || echo "targets lane: no clippy in the archive; cargo check only"
    cmd=(check)
    lint=()
else
    cmd=(clippy)
    lint=(-- -D warnings)
fi
# One cargo run for every target: the standard library builds for several targets at once keep
# both CI cores busy (each target's std is a mostly serial chain of crates).
t=$SECONDS
target_args=()
for target in "${targets[@]}"; do
    target_args+=(--target "$target")
done
if "$usr/bin/cargo" "${cmd[@]}" -p mmf --lib --locked "${target_args[@]}" \
    -Zbuild-std=std,panic_abort "${lint[@]}"; then
    echo "targets lane: ${cmd[*]} ok for ${targets[*]} ($((SECONDS - t)) s; total $((SECONDS - t0)) s)"
else
    echo "targets lane: ${cmd[*]} FAILED for one of ${targets[*]} (MMF_TARGETS=T reruns one)" >&2
    exit 1
fi
