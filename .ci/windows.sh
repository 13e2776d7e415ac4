#!/bin/bash
# The Windows lane: builds the mmf library for x86_64-pc-windows-gnu with Debian's Rust 1.63 (the
# only Windows standard library in the package archive), runs its whole test suite under wine64,
# runs clippy for the Windows target, and checks that the library builds for Linux with the same
# Rust 1.63 (the MSRV). Recipe and the reasons behind each setting: shared/research/windows-wine.md.
#
# It installs what it needs (apt, retried) and keeps everything under target/win/: the standalone
# crate, its own lockfile (Debian's cargo 1.65 cannot read every lockfile the current cargo writes,
# and cannot parse the edition-2024 CLI crate, so it never sees the workspace), the cargo home, the
# build directory and the wine prefix. Run it from anywhere as root: `bash .ci/windows.sh`.
#
# Environment: MMF_WIN_SKIP_CLIPPY=1 skips clippy; MMF_WIN_TEST_ARGS adds arguments to `cargo test`
# (for example a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$SECONDS
win=$root/target/win
mkdir -p "$win"

# --- packages --------------------------------------------------------------------------------------
pkgs=(rustc cargo rust-clippy libstd-rust-dev-windows gcc-mingw-w64-x86-64-posix wine64)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >"$win/apt.log" 2>&1 || apt-get update -q >>"$win/apt.log" 2>&1
    ok=0
    for i in 1 2 3; do # a transient "cannot access archive" dpkg error has been seen: retry
        if apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$win/apt.log" 2>&1; then
            ok=1
            break
        fi
        sleep 3
    done
    if [ $ok != 1 ]; then
        tail -30 "$win/apt.log"
        echo "windows lane: apt-get install ${missing[*]} failed" >&2
        exit 1
    fi
fi
echo "windows lane: packages ready ($((SECONDS - t0)) s)"

# --- standalone copies of the mmf and mmf-derive crates -------------------------------------------
# Their sources are symbolic links to the real ones (so mtimes, and cargo's fingerprints, are the real
# files'); only the manifests are rewritten: no workspace inheritance, no [lints] table (cargo 1.65
# does not know it; the lints are also set in lib.rs), no readme outside the crate, and a [workspace]
# of their own. mmf's path dependency `../mmf-derive` finds the copy next to it.
standalone() { # SOURCE_DIR COPY_DIR
    local src=$1 copy=$2 entry base
    mkdir -p "$copy"
    find "$copy" -maxdepth 1 -type l -delete # links to entries that may be gone
    for entry in "$src"/*; do
        base=$(basename "$entry")
        case $base in
            Cargo.toml | Cargo.lock | target | fuzz) continue ;;
        esac
        ln -sfn "$entry" "$copy/$base"
    done
    awk '
        /^\[/ { skip = ($0 ~ /^\[lints/) }
        skip { next }
        /^(license|repository|readme)[ .]/ { next }
        { print }
        END { print ""; print "[workspace]" }
    ' "$src/Cargo.toml" >"$copy/Cargo.toml.new"
    if ! cmp -s "$copy/Cargo.toml.new" "$copy/Cargo.toml"; then
        mv "$copy/Cargo.toml.new" "$copy/Cargo.toml"
    else
        rm "$copy/Cargo.toml.new"
    fi
}
crate=$win/crate
standalone "$root/mmf" "$crate"
standalone "$root/mmf-derive" "$win/mmf-derive"

# --- toolchain environment ---------------------------------------------------------------------------
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo # Debian's 1.63, not rustup's
export PATH=/usr/bin:$PATH
unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTFLAGS CARGO_BUILD_TARGET
export CARGO_HOME=$win/cargo-home                   # keep cargo 1.65 out of ~/.cargo
export CARGO_TARGET_DIR=$win/build                  # never share fingerprints with the current rustc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64 # no /usr/bin/wine without `wine`
export RUSTC_BOOTSTRAP=1                            # lets cargo 1.65 use the sparse registry (unstable there)
export CARGO_UNSTABLE_SPARSE_REGISTRY=true          # crates.io without cloning the git index
export CARGO_NET_RETRY=5
export CARGO_TERM_COLOR=never
export WINEPREFIX=$win/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64
# RUST_BACKTRACE=1 makes a panicking test crash wine (page fault in the unwinder, exit 84, no
# summary, remaining tests lost); 0 reports failures normally.
export RUST_BACKTRACE=0
cargo=(/usr/bin/cargo)
manifest=(--manifest-path "$crate/Cargo.toml")
wtarget=(--target x86_64-pc-windows-gnu)

stop_wineserver() { /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true; }
trap stop_wineserver EXIT

if [ ! -f "$crate/Cargo.lock" ]; then
    "${cargo[@]}" generate-lockfile "${manifest[@]}"
    # Cargo 1.65 has no MSRV-aware resolver: it picks the newest libc, which needs Rust 1.65 since
    # 0.2.184. Pin the last one that builds with 1.63, as a user of Rust 1.63 does (README).
    "${cargo[@]}" update "${manifest[@]}" -p libc --precise 0.2.183
fi
# The async tests' executor crates: futures 0.3.32 and later need Rust 1.71 (futures-core, which the
# library itself depends on, needs 1.36 in every release). Pin them to the last release that builds
# with 1.63, as a Rust 1.63 user running the tests would; also in a lockfile made before the tests
# used them (`cargo update -p mmf` first adds what the lockfile lacks, changing nothing else).
"${cargo[@]}" update "${manifest[@]}" -p mmf
for p in futures futures-executor futures-util futures-channel futures-task futures-sink \
    futures-io futures-core; do
    if grep -A1 "^name = \"$p\"$" "$crate/Cargo.lock" | grep -q 'version = "0\.3\.3[2-9]"'; then
        "${cargo[@]}" update "${manifest[@]}" -p "$p" --precise 0.3.31
    fi
done

# --- MSRV: the library builds for Linux with Rust 1.63 ----------------------------------------------
t=$SECONDS
"${cargo[@]}" check "${manifest[@]}" --lib
echo "windows lane: linux msrv check ($((SECONDS - t)) s)"

# --- clippy for the Windows target (Debian's clippy 1.63) --------------------------------------------
# The only clippy that can check cfg(windows) code here: rustup has no Windows standard library
# installed (and cannot download one), and clippy must match the compiler of the standard library
# it checks. The Linux lane runs the current clippy, which sets the style; these allowances keep
# 1.63 from contradicting it: lints it does not know are newer ones, and the -A list are lints
# that later clippy versions moved out of the default set (to nursery) for false positives.
if [ "${MMF_WIN_SKIP_CLIPPY:-0}" != 1 ]; then
    t=$SECONDS
    /usr/bin/cargo-clippy clippy "${manifest[@]}" "${wtarget[@]}" --all-targets -- -D warnings \
        -A unknown-lints -A clippy::redundant-clone -A clippy::needless-collect \
        -A clippy::derive-partial-eq-without-eq
    echo "windows lane: clippy for windows ($((SECONDS - t)) s)"
fi

# --- build and test under wine ---------------------------------------------------------------------
t=$SECONDS
"${cargo[@]}" build "${manifest[@]}" "${wtarget[@]}" --all-targets
echo "windows lane: windows build ($((SECONDS - t)) s)"
t=$SECONDS
if [ ! -d "$WINEPREFIX" ]; then
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
fi
# shellcheck disable=SC2086 # MMF_WIN_TEST_ARGS is split on purpose
"${cargo[@]}" test "${manifest[@]}" "${wtarget[@]}" --no-fail-fast ${MMF_WIN_TEST_ARGS:-}
echo "windows lane: tests under wine ($((SECONDS - t)) s)"
echo "windows lane: total $((SECONDS - t0)) s"
