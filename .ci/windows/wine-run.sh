#!/bin/bash
# The Windows lane's cargo runner for test executables: runs one under wine64.
#
# Wine 8 on a loaded machine has been seen to end a program before the program did anything: exit
# status 1 and no output at all (a test binary always prints "running N tests" first; CI saw this
# once, for a test binary that had passed on the same build minutes before). Such a start is tried
# again, at most twice, and said so on stderr. A program that printed anything, on stdout or
# stderr (a failing doc test prints only there), or ended otherwise, keeps its status.
set -uo pipefail
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
st=0
for attempt in 1 2 3; do
    /usr/lib/wine/wine64 "$@" 2> >(tee "$err" >&2) | tee "$out"
    st=${PIPESTATUS[0]}
    wait # for the stderr copy
    if [ "$st" != 1 ] || [ -s "$out" ] || [ -s "$err" ]; then
        exit "$st"
    fi
    echo "wine-run: $(basename "$1") ended with status $st before printing anything (start $attempt of 3)" >&2
done
exit "$st"
