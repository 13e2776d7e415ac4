#!/bin/bash
# Sourced by the lanes that need a current Rust for another target (`.ci/targets.sh`,
# `.ci/windows.sh`): Debian's rustc-web (1.96 in bookworm-security) with its standard library
# sources, so that `-Zbuild-std` (allowed on a stable compiler by RUSTC_BOOTSTRAP=1) builds std for
# any target rustc knows. rustup here has no standard library for other targets and cannot download
# one.
#
# rustc-web conflicts with Debian's `rustc` package, which the Windows lane installs (Rust 1.63, the
# MSRV), so it is never installed: the packages are downloaded and unpacked under
# target/rust-web/, shared by every lane that sources this file. Background:
# shared/research/platforms-and-bindings.md.
#
# Usage: `source .ci/rust-web.sh; rust_web_env ROOT` (ROOT: the repository root). It unpacks the
# toolchain once, then exports PATH, LD_LIBRARY_PATH, RUSTC, RUSTDOC, CARGO, RUSTC_BOOTSTRAP and
# where cargo finds the standard library's sources, and sets `rust_web_usr` to the toolchain's
# usr directory. The caller picks CARGO_TARGET_DIR.

rust_web_env() { # ROOT
    local root=$1 prefix p deb src
    prefix=$root/target/rust-web
    mkdir -p "$prefix"
    local pkgs=(rustc-web cargo-web libstd-rust-web-1.96 libstd-rust-web-dev rust-web-src rust-web-clippy)
    if ! dpkg-query -W -f='${Status}' libllvm22 2>/dev/null | grep -q "install ok installed"; then
        DEBIAN_FRONTEND=noninteractive _rust_web_apt "$prefix" \
            apt-get install -y -q --no-install-recommends libllvm22 || return 1
    fi
    if [ ! -f "$prefix/.unpacked" ]; then
        rm -rf "$prefix/debs" "$prefix/root"
        mkdir -p "$prefix/debs" "$prefix/root"
        local have=()
        for p in "${pkgs[@]}"; do
            # Clippy comes as a package of its own where the archive has one; without it, no clippy.
            if [ "$p" = rust-web-clippy ] && ! apt-cache show "$p" >/dev/null 2>&1; then
                continue
            fi
            have+=("$p")
        done
        (cd "$prefix/debs" && _rust_web_apt "$prefix" apt-get download "${have[@]}") || return 1
        for deb in "$prefix"/debs/*.deb; do
            dpkg -x "$deb" "$prefix/root"
        done
        touch "$prefix/.unpacked"
    fi
    rust_web_usr=$prefix/root/usr
    export PATH=$rust_web_usr/bin:$PATH
    export LD_LIBRARY_PATH=$rust_web_usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export RUSTC=$rust_web_usr/bin/rustc RUSTDOC=$rust_web_usr/bin/rustdoc CARGO=$rust_web_usr/bin/cargo
    unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTFLAGS CARGO_BUILD_TARGET
    export RUSTC_BOOTSTRAP=1 # -Zbuild-std on a stable compiler
    src=$(ls -d "$rust_web_usr"/src/rustc-*/library | head -1)
    export __CARGO_TESTS_ONLY_SRC_ROOT=$src # where cargo finds the standard library's sources
    export CARGO_TERM_COLOR=never
}

# apt-get with `apt-get update` and retries between attempts (transient archive errors happen).
_rust_web_apt() { # PREFIX COMMAND...
    local prefix=$1 i
    shift
    for i in 1 2 3; do
        "$@" >>"$prefix/apt.log" 2>&1 && return 0
        apt-get update -q >>"$prefix/apt.log" 2>&1 || true
        sleep 2
    done
    tail -20 "$prefix/apt.log" >&2
    return 1
}
