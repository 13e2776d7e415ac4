#!/bin/bash
# The other-targets lane: `cargo check` and clippy (`-D warnings`) of the mmf library for macOS
# (aarch64 and x86_64) and FreeBSD (the POSIX backend), Android (the Linux backend) and
# wasm32-unknown-unknown (the fallback). These are compile checks only: nothing here runs the code on those systems.
# About 4 minutes from scratch on 2 cores (the standard library is built for each target), seconds
# when target/cross is warm.
#
# rustup here has no standard library for those targets and cannot download one, so the lane uses
# Debian's rustc-web 1.96 with its standard library sources and builds std for each target from
# source (`-Zbuild-std`), unpacked privately by `.ci/rust-web.sh` (shared with the Windows lane).
#
# Run it from anywhere as root: `bash .ci/targets.sh`. Environment: MMF_TARGETS overrides the list
# of targets (space-separated); MMF_TARGETS_SKIP_CLIPPY=1 runs `cargo check` only.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$SECONDS
# --- toolchain: rustc-web 1.96, unpacked privately (.ci/rust-web.sh) -------------------------------
# shellcheck source=.ci/rust-web.sh
source "$root/.ci/rust-web.sh"
rust_web_env "$root"
usr=$rust_web_usr
echo "targets lane: toolchain ready ($((SECONDS - t0)) s)"
export CARGO_TARGET_DIR=$root/target/cross # never share fingerprints with the main toolchain
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
