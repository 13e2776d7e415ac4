#!/bin/bash
# The CLI's end-to-end checks on Windows, under Wine: each step runs `mmf.exe` as a new Windows
# process and checks its exit status and output, as the Linux tests (mmf-cli/tests/cli.rs) do.
# Called by `.ci/windows.sh` after it built target/windows/mmf.exe; alone:
#   bash .ci/windows/cli.sh target/windows
# Needs wine64 (the Windows lane installs it) and the Wine-only bcryptprimitives.dll stand-in
# beside mmf.exe. Uses WINEPREFIX as given (the lane's), else target/win/wine.
#
# Checked: help names the session namespace and the directory of persistent objects; `doctor` (text
# and --json, exit 0, persistent objects ok); exit codes for a usage error (2), a bad name (2), a
# missing object (3) and a timed-out wait (4); persistent objects: `store greeting hi`, then in new
# processes `retrieve` prints it, `list` and `info` show it, `rm` removes it (then `list` no longer
# shows it and `retrieve` exits 3), a 3 MB value stored into it and a 3 MB plain object streamed
# from stdin (their files grow), `gc`, `dump` of a persistent plain object; `watch` follows a
# persistent value that is removed and created again, and `watch --wait` sees a new section
# appear; `store --hold` makes a handle-lifetime value that other processes retrieve, byte-exact,
# that `list` shows while held and that vanishes with its last holder, and ends with status 0 on
# Ctrl-C, as `watch` does; `--raw` plain objects, and a value stored into one is refused with exit
# status 2 (as on Linux); a writer refused by a read-only DACL (`--mode 400`) exits 1, as a
# permission error does on Linux, and `info` shows the mode read back from the DACL (also 0600 for
# a persistent object, with its owner's account). Not checked: another user's object (the Wine lane runs as one
# user).
set -euo pipefail
dir=$(cd "${1:?usage: cli.sh DIR_WITH_MMF_EXE}" && pwd)
cd "$(dirname "$0")/../.."
root=$PWD
export WINEPREFIX=${WINEPREFIX:-$root/target/win/wine} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64 RUST_BACKTRACE=0
wine=/usr/lib/wine/wine64
work=$(mktemp -d)
holders=()
wineserver=/usr/lib/wine/wineserver
cleanup() {
    local p
    for p in "${holders[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    "$wineserver" -k >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
# One wineserver for the whole script, kept (-p) until the end. Wine's server exits a few seconds
# after its last client, and a client that connects while it exits fails ("wine client error:
# recvmsg: Connection reset by peer", seen once on the first step, right after the library tests).
"$wineserver" -k >/dev/null 2>&1 || true
"$wineserver" -w >/dev/null 2>&1 || true
# Wine's own processes (wineserver, services) outlive a command and inherit its standard handles:
# start them now, detached, so no later command's output pipe is held open by them.
if [ ! -d "$WINEPREFIX" ]; then
    setsid "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
setsid "$wineserver" -p </dev/null >/dev/null 2>&1 || true
setsid "$wine" "$dir/mmf.exe" --version </dev/null >"$work/version" 2>&1 || true
failures=0
step=0

# mmf STATUS ARGS...: runs `mmf.exe ARGS...` with stdin from $input (default empty), stdout and
# stderr to files, and checks the exit status. Its output is then in $out and $err.
input=/dev/null
mmf() {
    local want=$1 got=0
    shift
    step=$((step + 1))
    timeout 60 "$wine" "$dir/mmf.exe" "$@" <"$input" >"$work/out" 2>"$work/err" || got=$?
    out=$(tr -d '\0' <"$work/out")
    err=$(tr -d '\r' <"$work/err")
    if [ "$got" != "$want" ]; then
        fail "mmf $* exited $got, expected $want"
        return 1
    fi
}
fail() {
    failures=$((failures + 1))
    echo "windows cli: FAILED (step $step): $1" >&2
    echo "  stdout: $(head -c 2000 "$work/out")" >&2
    echo "  stderr: $(head -c 2000 "$work/err")" >&2
}
expect() { # WHAT HAYSTACK NEEDLE
    case $2 in
        *"$3"*) ;;
        *) fail "$1: expected to contain \"$3\"" ;;
    esac
}
# Waits until `mmf.exe retrieve NAME` gives EXPECTED (a holder started in the background).
wait_for() { # NAME EXPECTED
    local i
    for i in $(seq 1 100); do
        if timeout 60 "$wine" "$dir/mmf.exe" retrieve "$1" </dev/null >"$work/out" 2>"$work/err" &&
            [ "$(cat "$work/out")" = "$2" ]; then
            return 0
        fi
        sleep 0.2
    done
    fail "retrieve $1 never gave \"$2\""
    return 1
}
# Waits until NAME is gone (`retrieve` exits 3, not found).
wait_gone() { # NAME
    local i st
    for i in $(seq 1 100); do
        st=0
        timeout 60 "$wine" "$dir/mmf.exe" retrieve "$1" </dev/null >"$work/out" 2>"$work/err" || st=$?
        [ "$st" = 3 ] && return 0
        sleep 0.2
    done
    fail "$1 did not go away with its last holder (retrieve exited $st)"
    return 1
}
# Waits until FILE contains PATTERN (grep -E); an empty PATTERN: until FILE is not empty.
wait_file() { # FILE PATTERN
    local i
    for i in $(seq 1 100); do
        if [ -z "$2" ]; then [ -s "$1" ] && return 0; else grep -qE "$2" "$1" && return 0; fi
        sleep 0.2
    done
    return 1
}
# Ends a background mmf.exe with Ctrl-C (Wine turns SIGINT into CTRL_C_EVENT) and checks that it
# exits with status 0.
interrupt_ok() { # PID WHAT
    local st=0
    step=$((step + 1))
    kill -INT "$1" 2>/dev/null || true # one that ended already fails below with its status
    wait "$1" || st=$?
    [ "$st" = 0 ] || fail "$2 ended by Ctrl-C exited $st, expected 0"
}
n=mmf-ci-$$

# --- help and doctor -------------------------------------------------------------------------------
mmf 0 --help && expect "help" "$out" 'Local\' && expect "help" "$out" '%LOCALAPPDATA%\mmf'
mmf 0 doctor && expect "doctor" "$out" "session namespace"
mmf 0 doctor --json && {
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["ok"] is True, r; assert all(any(c["check"]==k and c["status"]=="ok" for c in r["checks"]) for k in ("session namespace","persistent objects")), r' \
        <"$work/out" || fail "doctor --json: not the expected report"
}

# --- exit codes ------------------------------------------------------------------------------------
mmf 2 --no-such-flag || true
mmf 2 retrieve 'a/b' && expect "bad name" "$err" "a/b"
mmf 3 retrieve "$n-missing" && expect "missing object" "$err" "not found"
mmf 4 retrieve --wait --timeout 1 "$n-missing" || true
mmf 3 rm "$n-missing" || true

# --- persistent objects: files in %LOCALAPPDATA%\mmf, each command a new process -----------------
# A leftover of an interrupted run goes first.
timeout 60 "$wine" "$dir/mmf.exe" rm greeting </dev/null >/dev/null 2>&1 || true
mmf 0 store greeting hi
mmf 0 retrieve greeting && [ "$out" = hi ] || fail "retrieve greeting gave \"$out\", expected \"hi\""
mmf 0 list && expect "list" "$out" "greeting" && expect "list" "$out" "persistent"
mmf 0 info greeting && expect "info" "$out" "lifetime: persistent" && expect "info" "$out" 'AppData\Local\mmf\greeting' &&
    expect "info: mode" "$out" "mode:     0600" && case $out in *"owner:    -"*) fail "info shows no owner" ;; esac
mmf 0 info --json greeting && {
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["name"]=="greeting" and r["kind"]=="value" and r["value_len"]==2 and r["mode"]=="0600" and r["owner_uid"] is None and r["owner"] not in ("", "-"), r' \
        <"$work/out" || fail "info --json: not the expected object"
}
mmf 0 store greeting 'hi again'
mmf 0 retrieve greeting && [ "$out" = 'hi again' ] || fail "retrieve after a second store gave \"$out\""
# A value 700 times the 4 KiB the object was created with, from stdin: its file grows.
head -c 3000000 /dev/urandom >"$work/big"
input=$work/big
mmf 0 store greeting
input=/dev/null
mmf 0 retrieve greeting && { cmp -s "$work/out" "$work/big" || fail "the grown value did not read back"; }
mmf 0 info --json greeting && {
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["value_len"]==3000000 and r["size"]>3000000, r' \
        <"$work/out" || fail "info --json after growth: $(cat "$work/out")"
}
mmf 2 store --raw greeting 'raw' && expect "raw into a value" "$err" "shared value"
mmf 0 rm greeting
mmf 0 list && case $out in *greeting*) fail "list still shows greeting after rm" ;; esac
mmf 3 retrieve greeting && expect "removed object" "$err" "mmf list"
mmf 3 info greeting || true
mmf 3 rm greeting || true
# A persistent plain object: its raw bytes with `dump` (the text, its NUL, zeros), then gone.
mmf 0 store --raw "$n-d" hello
mmf 0 dump "$n-d" && [ "$(head -c 6 "$work/out" | od -An -c | tr -s ' ')" = " h e l l o \0" ] ||
    fail "dump did not start with the text and its NUL"
mmf 0 rm "$n-d"
mmf 3 dump "$n-d" || true
# A persistent plain object from a stream of unknown length (stdin, 3 MB): made small, its file
# grows as the input comes.
input=$work/big
mmf 0 store --raw "$n-big"
input=/dev/null
mmf 0 dump "$n-big" && { head -c 3000000 "$work/out" | cmp -s - "$work/big" || fail "the streamed object did not read back"; }
mmf 0 info --json "$n-big" && {
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["size"]==3000001, r' \
        <"$work/out" || fail "info --json of the streamed object: $(cat "$work/out")"
}
mmf 0 rm "$n-big"
mmf 0 gc
mmf 2 store 'a:b' 'x' && expect "not a file name" "$err" "file name"
mmf 2 --dir 'C:\no\such\dir' store "$n" x && expect "missing --dir" "$err" "does not exist"

# --- watch follows a persistent value that is removed and created again -------------------------
mmf 0 store "$n-w" 'one'
"$wine" "$dir/mmf.exe" watch "$n-w" </dev/null >"$work/w.out" 2>"$work/w.err" &
watcher=$!
holders+=("$watcher")
wait_file "$work/w.out" '' || true
mmf 0 rm "$n-w"
step=$((step + 1))
wait_file "$work/w.err" "was removed" || fail "watch did not see $n-w removed: $(cat "$work/w.err")"
mmf 0 store "$n-w" 'two'
wait_file "$work/w.out" two || true
interrupt_ok "$watcher" watch
[ "$(tr -d '\r' <"$work/w.out")" = "$(printf 'one\ntwo')" ] || fail "watch printed \"$(cat "$work/w.out")\", expected one and two"
# --wait sees a handle-lifetime value appear (nothing announces a new section: it looks once a second).
"$wine" "$dir/mmf.exe" watch --wait --timeout 60 "$n-later" </dev/null >"$work/later.out" 2>"$work/later.err" &
watcher=$!
holders+=("$watcher")
sleep 1
"$wine" "$dir/mmf.exe" store --hold "$n-later" 'appeared' </dev/null >/dev/null 2>&1 &
holders+=($!)
step=$((step + 1))
wait_file "$work/later.out" appeared || fail "watch --wait did not see $n-later appear: $(cat "$work/later.err")"
kill -INT "$watcher" "${holders[-1]}" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
wait "${holders[-1]}" 2>/dev/null || true
mmf 0 rm "$n-w"
holders=()

# --- store --hold: a handle-lifetime value, from another process, gone with its holder ------------
"$wine" "$dir/mmf.exe" store --hold "$n-held" 'hi there' </dev/null >"$work/hold.out" 2>"$work/hold.err" &
holders+=($!)
if wait_for "$n-held" 'hi there'; then
    mmf 0 list && expect "list of a held object" "$out" "$n-held" && expect "its lifetime" "$out" handle
    mmf 0 info "$n-held" && expect "info of a held object" "$out" "Local\\$n-held"
    mmf 1 rm "$n-held" && expect "rm of a held object" "$err" "last handle"
    printf 'from stdin\0with a NUL' >"$work/value"
    input=$work/value
    # A second holder opens it (as CreateFileMapping opens an existing name) and stores a new value.
    "$wine" "$dir/mmf.exe" store --hold "$n-held" <"$work/value" >"$work/hold2.out" 2>"$work/hold2.err" &
    holders+=($!)
    input=/dev/null
    for i in $(seq 1 100); do
        timeout 60 "$wine" "$dir/mmf.exe" retrieve "$n-held" </dev/null >"$work/got" 2>/dev/null || true
        cmp -s "$work/got" "$work/value" && break
        sleep 0.2
    done
    cmp -s "$work/got" "$work/value" || fail "the second holder's value was not retrieved byte-exact"
    # The first holder ends: the second still holds the object.
    kill -KILL "${holders[0]}"
    wait "${holders[0]}" 2>/dev/null || true
    mmf 0 retrieve "$n-held" >/dev/null || true
    # The last holder ends: the name goes with it.
    kill -KILL "${holders[1]}"
    wait "${holders[1]}" 2>/dev/null || true
    wait_gone "$n-held" || true
    mmf 0 list && case $out in *"$n-held"*) fail "list still shows $n-held after its last holder" ;; esac
fi
holders=()

# --- permission: a read-only DACL (--mode 400) refuses a writer, exit status 1 as on Linux ---------
"$wine" "$dir/mmf.exe" store --hold --mode 400 "$n-ro" 'locked' </dev/null >/dev/null 2>"$work/ro.err" &
holders+=($!)
if wait_for "$n-ro" 'locked'; then
    mmf 1 store --hold "$n-ro" 'forged' && expect "permission" "$err" "permission denied"
    mmf 0 retrieve "$n-ro" && [ "$out" = locked ] || fail "retrieve after a refused store gave \"$out\""
    # The mode is read back from the section's DACL.
    mmf 0 info "$n-ro" && expect "info of a --mode 400 object" "$out" "mode:     0400"
fi
kill -KILL "${holders[0]}" 2>/dev/null || true
wait "${holders[0]}" 2>/dev/null || true
holders=()
wait_gone "$n-ro" || true

# --- Ctrl-C (Wine turns SIGINT into CTRL_C_EVENT): --hold and watch end normally, status 0 -------
"$wine" "$dir/mmf.exe" store --hold "$n-int" 'bye' </dev/null >/dev/null 2>"$work/int.err" &
holder=$!
holders+=("$holder")
if wait_for "$n-int" 'bye'; then
    "$wine" "$dir/mmf.exe" watch "$n-int" </dev/null >"$work/watch.out" 2>"$work/watch.err" &
    watcher=$!
    holders+=("$watcher")
    wait_file "$work/watch.out" '' || true
    interrupt_ok "$watcher" watch
    [ "$(tr -d '\r' <"$work/watch.out")" = 'bye' ] || fail "watch printed \"$(cat "$work/watch.out")\""
    interrupt_ok "$holder" "store --hold"
    wait_gone "$n-int" || true
fi
holders=()

# --- --raw: the seed's plain object, a C string ----------------------------------------------------
"$wine" "$dir/mmf.exe" store --raw --hold "$n-raw" 'plain text' </dev/null >/dev/null 2>"$work/raw.err" &
holders+=($!)
if wait_for "$n-raw" 'plain text'; then
    mmf 0 retrieve --raw "$n-raw" && [ "$out" = 'plain text' ] || fail "retrieve --raw gave \"$out\""
    # A value stored into a plain object is refused with what to do: a usage error, as on Linux.
    mmf 2 store --hold "$n-raw" 'not raw' && expect "value into plain" "$err" "not an mmf shared value"
    mmf 0 list && expect "list of a plain object" "$out" "plain"
fi
kill -KILL "${holders[0]}" 2>/dev/null || true
wait "${holders[0]}" 2>/dev/null || true
holders=()
wait_gone "$n-raw" || true

if [ "$failures" != 0 ]; then
    echo "windows cli: $failures of $step steps FAILED" >&2
    exit 1
fi
echo "windows cli: $step steps ok"
