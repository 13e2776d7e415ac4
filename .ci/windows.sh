#!/bin/bash
# The Windows lane (x86_64-pc-windows-gnu, run under Wine), in two parts:
#
# 1. The library with Debian's Rust 1.63, the MSRV (the only Windows standard library in the
#    package archive): checks that it builds for Linux with 1.63 and runs clippy 1.63 for the
#    Windows target (all targets, so the tests must compile with 1.63 too).
# 2. Everything else with the current Rust (Debian's rustc-web, standard library built from source
#    for the target, see `.ci/rust-web.sh`), run under wine64:
#    - the library's tests (optimised, as in the Linux lane) and its doc tests;
#    - `mmf.exe` (the CLI) and `mmf-dialog.exe` (the seed's dialog), put with the Wine-only stand-in
#      for bcryptprimitives.dll (`.ci/windows/bcryptprimitives.c`) in target/windows/;
#    - the CLI's end-to-end checks (`.ci/windows/cli.sh`) and the dialog's GUI test on a virtual X
#      display driven by xdotool (`.ci/windows/dialog.sh`, with a screenshot under
#      target/windows/dialog-test/).
#
# `bash .ci/windows.sh build` does only the build of the two programs: it leaves
# target/windows/mmf.exe and target/windows/mmf-dialog.exe (and the test-only DLL beside them).
# `bash .ci/windows.sh` does everything. Run it from anywhere as root.
#
# Dependency versions are pinned: part 1 uses `.ci/windows/msrv.lock` (Debian's cargo 1.65 cannot
# read every lockfile the current cargo writes, and cannot parse the edition-2024 crates, so it
# never sees the workspace; MMF_WIN_RELOCK=1 regenerates that lockfile after a dependency change),
# part 2 the workspace's Cargo.lock (`--locked`) and the standard library's own lockfile. Everything
# else stays under target/: target/win/ (part 1's standalone crate, cargo home and build directory,
# and the wine prefix), target/win/web/ (part 2's build directory), target/rust-web/ (the unpacked
# toolchain).
#
# Environment: MMF_WIN_SKIP_CLIPPY=1 skips clippy; MMF_WIN_TEST_ARGS replaces the target
# selection of part 2's `cargo test` of the library's tests (`--lib --bins --tests`; for example
# `--test windows`; the doc tests then do not run); MMF_WIN_DIALOG_RUNS repeats the GUI test (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
t0=$SECONDS
win=$root/target/win
mkdir -p "$win"
mode=${1:-all}
case $mode in
    all | build) ;;
    *)
        echo "usage: bash .ci/windows.sh [build]" >&2
        exit 2
        ;;
esac

# --- packages --------------------------------------------------------------------------------------
if [ "$mode" = build ]; then
    pkgs=(gcc-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64)
else
    # xvfb, xdotool and imagemagick (`import`, the screenshot): the dialog's GUI test.
    pkgs=(rustc cargo rust-clippy libstd-rust-dev-windows gcc-mingw-w64-x86-64-posix
        binutils-mingw-w64-x86-64 wine64 xvfb xdotool imagemagick)
fi
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

export WINEPREFIX=$win/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64
# RUST_BACKTRACE=1 makes a panicking test crash wine (page fault in the unwinder, exit 84, no
# summary, remaining tests lost); 0 reports failures normally.
export RUST_BACKTRACE=0
stop_wineserver() { /usr/lib/wine/wineserver -k >/dev/null 2>&1 || true; }
trap stop_wineserver EXIT
wtarget=(--target x86_64-pc-windows-gnu)

# --- standalone copies of the mmf and mmf-derive crates -------------------------------------------
# Their sources are symbolic links to the real ones (so mtimes, and cargo's fingerprints, are the real
# files'); only the manifests are rewritten: no workspace inheritance, no [lints] table (cargo 1.65
# does not know it; the lints are also set in lib.rs), no readme outside the crate, and a [workspace]
# of their own with the workspace's profile for mmf (its tests optimised, as in the Linux lane).
# mmf's path dependency `../mmf-derive` finds the copy next to it.
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
    {
        awk '
            /^\[/ { skip = ($0 ~ /^\[lints/) }
            skip { next }
            /^(license|repository|readme)[ .]/ { next }
            { print }
            END { print ""; print "[workspace]"; print "" }
        ' "$src/Cargo.toml"
        # The workspace's [profile.dev.package.mmf] table, as written there.
        awk '/^\[/ { keep = ($0 == "[profile.dev.package.mmf]") } keep' "$root/Cargo.toml"
    } >"$copy/Cargo.toml.new"
    if ! cmp -s "$copy/Cargo.toml.new" "$copy/Cargo.toml"; then
        mv "$copy/Cargo.toml.new" "$copy/Cargo.toml"
    else
        rm "$copy/Cargo.toml.new"
    fi
}

# ==== part 1: the library with Rust 1.63 (a subshell: its environment stays in it) ==================
# Its tests run in part 2, with the current Rust; here they are compiled (clippy --all-targets).
msrv_lane() (
    crate=$win/crate
    standalone "$root/mmf" "$crate"
    standalone "$root/mmf-derive" "$win/mmf-derive"

    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc CARGO=/usr/bin/cargo # Debian's 1.63
    export PATH=/usr/bin:$PATH
    unset RUSTUP_TOOLCHAIN RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER RUSTFLAGS CARGO_BUILD_TARGET
    export CARGO_HOME=$win/cargo-home          # keep cargo 1.65 out of ~/.cargo
    export CARGO_TARGET_DIR=$win/build         # never share fingerprints with the current rustc
    export RUSTC_BOOTSTRAP=1                   # lets cargo 1.65 use the sparse registry (unstable there)
    export CARGO_UNSTABLE_SPARSE_REGISTRY=true # crates.io without cloning the git index
    export CARGO_NET_RETRY=5
    export CARGO_TERM_COLOR=never
    cargo=(/usr/bin/cargo)
    manifest=(--manifest-path "$crate/Cargo.toml")

    # The pinned lockfile, so that a crate release cannot break the lane. After a dependency
    # change, MMF_WIN_RELOCK=1 updates it: `cargo update -p mmf` adds what it lacks, changing
    # nothing else; then the crates that moved on to a newer Rust are pinned to their last release
    # that builds with 1.63, as a user of Rust 1.63 does (README): cargo 1.65 has no MSRV-aware
    # resolver. libc needs Rust 1.65 from 0.2.184 on; futures 0.3.32 and later (the async tests'
    # executor crates) need 1.71 (futures-core, which the library itself depends on, needs 1.36 in
    # every release).
    lock=$root/.ci/windows/msrv.lock
    cmp -s "$lock" "$crate/Cargo.lock" || cp "$lock" "$crate/Cargo.lock"
    if [ "${MMF_WIN_RELOCK:-0}" = 1 ]; then
        "${cargo[@]}" update "${manifest[@]}" -p mmf
        pin() { # CRATE VERSION_PATTERN LAST_GOOD
            if grep -A1 "^name = \"$1\"$" "$crate/Cargo.lock" | grep -q "version = \"$2\""; then
                "${cargo[@]}" update "${manifest[@]}" -p "$1" --precise "$3"
            fi
        }
        pin libc '0\.2\.\(18[4-9]\|19[0-9]\|[2-9][0-9][0-9]\)' 0.2.183
        for p in futures futures-executor futures-util futures-channel futures-task futures-sink \
            futures-io futures-core; do
            pin "$p" '0\.3\.\(3[2-9]\|[4-9][0-9]\)' 0.3.31
        done
        cp "$crate/Cargo.lock" "$lock"
        echo "windows lane: updated .ci/windows/msrv.lock; commit it"
    fi
    cargo_locked() { "${cargo[@]}" "$1" "${manifest[@]}" --locked "${@:2}"; }

    # --- MSRV: the library builds for Linux with Rust 1.63 ------------------------------------------
    t=$SECONDS
    cargo_locked check --lib
    echo "windows lane: linux msrv check ($((SECONDS - t)) s)"

    # --- clippy for the Windows target (Debian's clippy 1.63) ----------------------------------------
    # The only clippy that can check the library's cfg(windows) code with the MSRV's lints. The
    # Linux lane runs the current clippy, which sets the style; these allowances keep 1.63 from
    # contradicting it: lints it does not know are newer ones, and the -A list are lints that later
    # clippy versions moved out of the default set (to nursery) for false positives.
    if [ "${MMF_WIN_SKIP_CLIPPY:-0}" != 1 ]; then
        t=$SECONDS
        /usr/bin/cargo-clippy clippy "${manifest[@]}" --locked "${wtarget[@]}" --all-targets -- \
            -D warnings -A unknown-lints -A clippy::redundant-clone -A clippy::needless-collect \
            -A clippy::derive-partial-eq-without-eq
        echo "windows lane: clippy for windows ($((SECONDS - t)) s)"
    fi
)

# ==== part 2: everything else with the current Rust (subshells too) =================================
web_env() {
    # shellcheck source=.ci/rust-web.sh
    source "$root/.ci/rust-web.sh"
    rust_web_env "$root"
    export CARGO_TARGET_DIR=$win/web # never share fingerprints with the other toolchains
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
    # wine64 (no /usr/bin/wine without `wine`), through a wrapper that starts a program again when
    # Wine ends it before it printed anything (see the script).
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$root/.ci/windows/wine-run.sh
    buildstd=(-Zbuild-std=std,panic_abort)
}

# The Wine-only stand-in DLL, built once into target/win/.
stand_in=$win/bcryptprimitives.dll
stand_in_src=$root/.ci/windows/bcryptprimitives.c
if [ ! -f "$stand_in" ] || [ "$stand_in_src" -nt "$stand_in" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$stand_in" "$stand_in_src" -ladvapi32
fi

# `mmf.exe`, `mmf-dialog.exe` and the Wine-only stand-in DLL in target/windows/.
programs_build() (
    web_env
    if [ "$mode" = all ] && [ "${MMF_WIN_SKIP_CLIPPY:-0}" != 1 ]; then
        # The programs' cfg(windows) code, with the current clippy (the Linux lane lints the rest).
        t=$SECONDS
        "$CARGO" clippy -p mmf-cli -p mmf-dialog --bins --locked "${wtarget[@]}" "${buildstd[@]}" \
            -- -D warnings
        echo "windows lane: clippy for the programs on windows ($((SECONDS - t)) s)"
    fi
    t=$SECONDS
    # The default (dev) profile: mmf itself is optimised there (the workspace's profile), the rest
    # builds faster unoptimised.
    "$CARGO" build -p mmf-cli -p mmf-dialog --bins --locked "${wtarget[@]}" "${buildstd[@]}"
    out=$root/target/windows
    mkdir -p "$out"
    for exe in mmf.exe mmf-dialog.exe; do
        cp "$CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug/$exe" "$out/$exe"
    done
    cp "$stand_in" "$out/bcryptprimitives.dll"
    echo "windows lane: built with $("$RUSTC" --version | cut -d' ' -f1-2) ($((SECONDS - t)) s): target/windows/mmf.exe and target/windows/mmf-dialog.exe (bcryptprimitives.dll beside them is a Wine-only stand-in, see .ci/windows/bcryptprimitives.c)"
)


# The library's tests (and the dialog's unit tests), built with the current Rust and run under
# wine64 as Windows executables; then the library's doc tests, cross-compiled by rustdoc and run
# the same way.
lib_tests() (
    set -e
    web_env
    if [ ! -d "$WINEPREFIX" ]; then
        setsid /usr/lib/wine/wine64 wineboot --init </dev/null >/dev/null 2>&1 || true
    fi
    # Test and doc-test executables live in cargo's and rustdoc's own directories, not beside a
    # copy of the stand-in DLL: the lane's Wine prefix (nothing else) gets it in system32.
    cp "$stand_in" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
    t=$SECONDS
    st=0
    # shellcheck disable=SC2086 # MMF_WIN_TEST_ARGS is split on purpose
    "$CARGO" test -p mmf -p mmf-dialog --locked "${wtarget[@]}" "${buildstd[@]}" --no-fail-fast \
        ${MMF_WIN_TEST_ARGS:---lib --bins --tests} || st=$?
    echo "windows lane: library tests under wine ($((SECONDS - t)) s)"
    if [ -z "${MMF_WIN_TEST_ARGS:-}" ]; then
        t=$SECONDS
        "$CARGO" test -p mmf --doc --locked "${wtarget[@]}" "${buildstd[@]}" || st=$?
        echo "windows lane: doc tests under wine ($((SECONDS - t)) s, none skipped)"
    fi
    exit "$st"
)

# The steps after the build run even if one fails (each is independent); the lane fails at the end,
# naming the steps that failed.
failed=()
step() { # NAME COMMAND...
    local name=$1 st=0 t=$SECONDS
    shift
    set +e
    "$@"
    st=$?
    set -e
    echo "windows lane: $name ($((SECONDS - t)) s)"
    [ "$st" = 0 ] || failed+=("$name (exit status $st)")
}

if [ "$mode" = all ]; then
    msrv_lane
fi
programs_build
if [ "$mode" = all ]; then
    step "library and doc tests" lib_tests
    step "the CLI under wine" bash "$root/.ci/windows/cli.sh" "$root/target/windows"
    step "the dialog under wine and Xvfb" \
        bash "$root/.ci/windows/dialog.sh" "$root/target/windows" "${MMF_WIN_DIALOG_RUNS:-1}"
fi
echo "windows lane: total $((SECONDS - t0)) s"
if [ ${#failed[@]} -gt 0 ]; then
    printf 'windows lane: FAILED: %s\n' "${failed[@]}" >&2
    exit 1
fi
