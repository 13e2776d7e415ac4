#!/usr/bin/env bash
# The streaming figures of BENCHMARKS.md (issue 13): a 1 GiB value through `mmf store --file`
# and `mmf retrieve`, against `cp` of the same file to /dev/shm and back, with wall time and
# peak RSS (GNU time's %M) of each command. Everything that touches /dev/shm runs inside a
# memory cgroup (v1 or v2) of 3 GiB, so a mistake cannot take the machine's memory. Needs root
# for the cgroup and /usr/bin/time; run from the workspace root:
#   cargo build --release -p mmf-cli && bash mmf-bench/stream-1gib.sh
set -euo pipefail
mmf=${MMF:-target/release/mmf}
tmp=$(mktemp -d)
shm=/dev/shm/mmf-bench-stream-$$
mkdir "$shm"
cg=""
for parent in /sys/fs/cgroup/memory /sys/fs/cgroup; do
    if [ -w "$parent" ]; then
        cg=$parent/mmf-bench-stream-$$
        mkdir "$cg"
        if [ -e "$cg/memory.limit_in_bytes" ]; then
            echo $((3 << 30)) > "$cg/memory.limit_in_bytes"
        else
            echo $((3 << 30)) > "$cg/memory.max"
        fi
        break
    fi
done
[ -n "$cg" ] || { echo "no writable memory cgroup" >&2; exit 1; }
cleanup() { rm -rf "$tmp" "$shm"; rmdir "$cg" 2>/dev/null || true; }
trap cleanup EXIT
# Run a command inside the cgroup; print "LABEL seconds maxrss_KiB".
measure() {
    local label=$1; shift
    sh -c 'echo $$ > "$0"/cgroup.procs && exec "$@"' "$cg" \
        /usr/bin/time -f "$label %e s, peak RSS %M KiB" "$@"
}
head -c $((1 << 30)) /dev/urandom > "$tmp/in.bin"
cat "$tmp/in.bin" > /dev/null # into the page cache
for round in 1 2 3; do
    measure "cp to /dev/shm:     " cp "$tmp/in.bin" "$shm/copy"
    measure "cp from /dev/shm:   " cp "$shm/copy" "$tmp/out.bin"
    rm -f "$shm/copy" "$tmp/out.bin"
    MMF_DIR=$shm measure "mmf store --file:   " "$mmf" store big --file "$tmp/in.bin"
    MMF_DIR=$shm measure "mmf retrieve > file:" sh -c '"$0" retrieve big > "$1"' "$mmf" "$tmp/out.bin"
    cmp "$tmp/in.bin" "$tmp/out.bin"
    rm -f "$tmp/out.bin"
    MMF_DIR=$shm "$mmf" rm big
    MMF_DIR=$shm measure "mmf store < stdin:  " sh -c '"$0" store big < "$1"' "$mmf" "$tmp/in.bin"
    MMF_DIR=$shm "$mmf" rm big
done
