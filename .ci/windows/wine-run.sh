#!/bin/bash
# The Windows lane's cargo runner for test executables: runs one under wine64.
#
# Wine 8 on a loaded machine has been seen to end a program before the program did anything: exit
# status 1 and no output at all (a test binary always prints "running N tests" first; CI saw this
# once, for a test binary that had passed on the same build minutes before). Such a start is tried
# again, at most twice, and said so on stderr. A program that printed anything keeps its status.
set -uo pipefail
out=$(mktemp)
trap 'rm -f "$out"' EXIT
st=0
for attempt in 1 2 3; do
    /usr/lib/wine/wine64 "$@" | tee "$out"
    st=${PIPESTATUS[0]}
    if [ "$st" = 0 ] || [ -s "$out" ]; then
        exit "$st"
    fi
    echo "wine-run: $(basename "$1") ended with status $st before printing anything (start $attempt of 3)" >&2
done
exit "$st"
