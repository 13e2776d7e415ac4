#!/bin/bash
# The GUI test of mmf-dialog.exe under Wine on a virtual X display (Xvfb), driven by xdotool with
# the keyboard only. Called by `.ci/windows.sh` after it built target/windows/; alone:
#   bash .ci/windows/dialog.sh target/windows [RUNS]
# RUNS (default 1) repeats the whole walkthrough, each time with a fresh Wine session. Needs wine64,
# xvfb, xdotool and imagemagick (`import`, the screenshot) and mingw-w64 (the probe); the lane
# installs them. Uses WINEPREFIX as given (the lane's), else target/win/wine.
#
# The walkthrough is the seed's (issue #17):
#  1. Instance 1 starts: centred, Store enabled, Retrieve disabled, the focus in the edit box, which
#     takes 4,095 characters. The test types a text and presses Alt+S: the edit box shows "Open a
#     new instance now!", Store is disabled, Retrieve enabled.
#  2. A plain C program with the seed's ANSI calls (OpenFileMappingA(FILE_MAP_ALL_ACCESS, TRUE,
#     "mmfobject"), MapViewOfFile) reads the text (.ci/windows/dialog-probe.c).
#  3. Instance 2 starts with Store disabled and Retrieve enabled; Alt+R shows the text.
#  4. A screenshot of the two windows (instance 1 moved aside first) is kept under
#     target/windows/dialog-test/ and its path printed.
#  5. Esc ends instance 2; the object is still there (instance 1 holds it). Alt+X (Exit) ends
#     instance 1; then the object is gone (OpenFileMappingA fails with ERROR_FILE_NOT_FOUND).
# The window state is read by the probe (IsWindowEnabled, GetGUIThreadInfo, WM_GETTEXT); every wait
# polls with a deadline, so a step that does not happen fails instead of hanging.
set -euo pipefail
dir=$(cd "${1:?usage: dialog.sh DIR_WITH_MMF_DIALOG_EXE [RUNS]}" && pwd)
runs=${2:-1}
cd "$(dirname "$0")/../.."
root=$PWD
export WINEPREFIX=${WINEPREFIX:-$root/target/win/wine} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64 RUST_BACKTRACE=0
wine=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver
art=$root/target/windows/dialog-test
mkdir -p "$art"
work=$(mktemp -d)
x11=
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    "$wineserver" -k >/dev/null 2>&1 || true
    [ -n "$x11" ] && kill "$x11" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
die() {
    echo "windows dialog: FAILED (run $run): $*" >&2
    [ -f "$work/state" ] && sed 's/^/  windows: /' "$work/state" >&2
    exit 1
}

# The probe, built like the stand-in DLL (beside the exe, so it needs no copy of its own).
x86_64-w64-mingw32-gcc -O2 -Wall -o "$work/dialog-probe.exe" "$root/.ci/windows/dialog-probe.c"
probe() { timeout 60 "$wine" "$work/dialog-probe.exe" "$@" </dev/null 2>/dev/null | tr -d '\r'; }

# A virtual screen on a free display number (Xvfb picks it and writes it to fd 3).
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
x11=$!
for _ in $(seq 1 100); do [ -s "$work/display" ] && break; sleep 0.1; done
[ -s "$work/display" ] || { run=0; die "Xvfb did not start: $(cat "$work/xvfb.log")"; }
export DISPLAY=:$(head -1 "$work/display")

# Wine's processes must be started with this display: end any left from earlier (headless) steps.
"$wineserver" -k >/dev/null 2>&1 || true
"$wineserver" -w >/dev/null 2>&1 || true
if [ ! -d "$WINEPREFIX" ]; then
    setsid "$wine" wineboot --init </dev/null >/dev/null 2>&1 || true
fi
# One wineserver for the whole test, kept (-p) until cleanup: a client that connects while an
# idle server exits is reset (see cli.sh).
setsid "$wineserver" -p </dev/null >/dev/null 2>&1 || true
# Without a window manager, Wine draws the captions itself only when told to.
setsid "$wine" reg add 'HKCU\Software\Wine\X11 Driver' /v Decorated /t REG_SZ /d N /f \
    </dev/null >/dev/null 2>&1

# until DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds, for up to 60 s.
until_ok() {
    local what=$1 deadline=$((SECONDS + 60))
    shift
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$@" && return 0
        sleep 0.2
    done
    die "timed out waiting: $what"
}
# The probe's line for the dialog window HWND, in $line (and all lines in $work/state).
window_line() { # HWND
    probe windows >"$work/state" || true
    line=$(grep "^hwnd=$1 " "$work/state" || true)
    [ -n "$line" ]
}
# Checks that the window HWND shows all of FIELD=VALUE... (text=... last, up to the line end).
window_is() { # HWND FIELD=VALUE...
    local hwnd=$1 want
    shift
    window_line "$hwnd" || return 1
    for want in "$@"; do
        case $want in
            text=*) [ "${line#*text=}" = "${want#text=}" ] || return 1 ;;
            *) case " $line " in *" $want "*) ;; *) return 1 ;; esac ;;
        esac
    done
}
# Starts an instance; sets $hwnd (Win32) and $xid (X11) of its window, which is not in SEEN.
start_instance() { # SEEN_HWNDS...
    setsid "$wine" "$dir/mmf-dialog.exe" </dev/null >>"$work/dialog.log" 2>&1 &
    pids+=($!)
    local pid=$! seen=" $* "
    new_window() {
        local h
        probe windows >"$work/state" || true
        for h in $(sed -n 's/^hwnd=\([^ ]*\) .*/\1/p' "$work/state"); do
            case $seen in *" $h "*) ;; *) hwnd=$h && return 0 ;; esac
        done
        return 1
    }
    until_ok "the dialog window of instance $(( ${#pids[@]} ))" new_window
    # Wine gives its X windows the Unix process id (_NET_WM_PID).
    x_window() { xid=$(xdotool search --all --pid "$pid" --name '^MMF Sharing Data$' 2>/dev/null | tail -1) && [ -n "$xid" ]; }
    until_ok "the X window of instance $(( ${#pids[@]} ))" x_window
}
# Gives the X window the keyboard focus (no window manager does it), then sends KEYS.
keys() { # XID KEYS...
    local xid=$1
    shift
    timeout 30 xdotool windowfocus --sync "$xid" || die "the dialog did not take the focus"
    timeout 30 xdotool key --clearmodifiers "$@" || die "xdotool key $* failed"
}
exited() { ! kill -0 "$1" 2>/dev/null; }

for run in $(seq 1 "$runs"); do
    pids=()
    text="typed in instance one $run-$$"
    : >"$work/dialog.log"
    if probe read mmfobject >"$work/read"; then die "mmfobject exists before the test: $(cat "$work/read")"; fi

    # 1. Instance 1: the start-up state, typing, Alt+S.
    start_instance
    one=$hwnd one_x=$xid one_pid=${pids[0]}
    until_ok "instance 1: centred, Store on, Retrieve off, focus in the edit box, limit 4095" \
        window_is "$one" centred=1 store=1 retrieve=0 focus=edit limit=4095 text=
    timeout 30 xdotool windowfocus --sync "$one_x" || die "the dialog did not take the focus"
    timeout 120 xdotool type --delay 15 "$text" || die "xdotool type failed"
    until_ok "instance 1 shows the typed text" window_is "$one" "text=$text"
    keys "$one_x" alt+s
    until_ok "instance 1 after Alt+S: Store off, Retrieve on, \"Open a new instance now!\"" \
        window_is "$one" store=0 retrieve=1 "text=Open a new instance now!"

    # 2. The seed's ANSI calls read what instance 1 stored.
    probe read mmfobject >"$work/read" || die "OpenFileMappingA/MapViewOfFile: $(cat "$work/read")"
    [ "$(cat "$work/read")" = "$text" ] || die "the C program read \"$(cat "$work/read")\", not \"$text\""

    # 3. Instance 2 (instance 1 moved aside so both show): Store off, Retrieve on; Alt+R.
    probe move "$one" 40 40 >/dev/null || die "could not move instance 1 aside"
    until_ok "instance 1 moved aside" window_is "$one" x=40 y=40
    start_instance "$one"
    two=$hwnd two_x=$xid two_pid=${pids[1]}
    until_ok "instance 2: centred, Store off, Retrieve on, focus in the edit box" \
        window_is "$two" centred=1 store=0 retrieve=1 focus=edit text=
    keys "$two_x" alt+r
    until_ok "instance 2 shows the text after Alt+R" window_is "$two" "text=$text"

    # 4. The screenshot.
    shot=$art/two-instances.png
    timeout 60 import -display "$DISPLAY" -window root "$shot" || die "the screenshot failed"
    cp "$work/state" "$art/two-instances.txt"

    # 5. Esc ends instance 2; the object stays while instance 1 holds it. Alt+X ends instance 1.
    keys "$two_x" Escape
    until_ok "instance 2 to exit on Esc" exited "$two_pid"
    probe read mmfobject >"$work/read" || die "the object went with instance 2, while instance 1 still holds it"
    keys "$one_x" alt+x
    until_ok "instance 1 to exit on Alt+X" exited "$one_pid"
    gone() {
        local st=0
        probe read mmfobject >"$work/read" || st=$?
        [ "$st" = 3 ]
    }
    until_ok "mmfobject to be gone after both instances exited" gone
    for p in "$one_pid" "$two_pid"; do
        wait "$p" || die "an instance exited with status $?: $(cat "$work/dialog.log")"
    done
    echo "windows dialog: run $run passed"
    "$wineserver" -k >/dev/null 2>&1 || true
    "$wineserver" -w >/dev/null 2>&1 || true
done
echo "windows dialog: screenshot of the two instances: $shot (window state: $art/two-instances.txt)"
