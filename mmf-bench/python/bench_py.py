"""mmf-bench scenario 10: mmfpy (the Python package) against multiprocessing.shared_memory.

Run by `mmf-bench` (src/python.rs) once per variant and repetition, with the interpreter that has
mmfpy and numpy installed; prints `result X`. Usage:

    bench_py.py latency (mmfpy|mmfpy-sleep|mp|mp-poll) CPU_A CPU_B [--quick]
        store→observe one-way latency between two Python processes, 64 B, blocking reader: round
        trip / 2 in µs, the median of batch means. mmfpy: SharedValue.store, then wait_newer +
        retrieve on the other side (and back), wait_newer as it comes (it polls the version for
        up to 50 µs, adapted per handle, then sleeps in a futex); mmfpy-sleep: the same with
        wait_newer(spin=0), straight to the futex. mp: multiprocessing.shared_memory, bytes copied
        in and out, with a multiprocessing.Semaphore each way (sem_wait: a futex); mp-poll: the
        same, polling acquire(block=False) for up to 50 µs before the blocking acquire.
    bench_py.py handover (value|view|mp) SIZE CPU_A CPU_B [--quick]
        a numpy array of SIZE bytes handed from one process to another, which ends with its own
        copy in a preallocated array and acknowledges: GB/s (10^9 bytes/s) of whole hand-overs,
        the median over timed chunks after a warm-up. value: SharedValue.store(array) (2 slots of
        SIZE), retrieve_into(array).
        view: the array copied into a View's numpy array, a SharedValue as the doorbell, copied
        out. mp: shared_memory + np.ndarray(buffer=shm.buf), copied in and out, semaphores.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from multiprocessing import shared_memory

import numpy as np

import mmfpy

ctx = mp.get_context("spawn")
PAYLOAD = bytes([0xA5]) * 64
# Hand-over values have 2 slots of the array's size (the fewest: memory for 64 MiB arrays); the
# warm-up touches both slots twice before timing starts.
SLOTS = 2
# How long mp-poll polls its semaphore before blocking (mmfpy's default wait polls as long at
# most).
POLL = 50e-6
WARM = 2 * SLOTS


def pin(cpu: int) -> None:
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass  # fewer CPUs: run unpinned


def attach(name: str) -> shared_memory.SharedMemory:
    """Opens the parent's segment. A spawned child shares the parent's resource tracker, which
    holds each name once, so the parent's unlink() is the only clean-up needed."""
    return shared_memory.SharedMemory(name=name)


def batched_median_us(total: int, batch: int, round_trip) -> float:
    means = []
    for _ in range(max(total // batch, 1)):
        t = time.perf_counter_ns()
        for _ in range(batch):
            round_trip()
        means.append((time.perf_counter_ns() - t) / batch)
    means.sort()
    return means[len(means) // 2] / 1000.0


def median_rate(chunks: int, per: int, size: int, hand_over) -> float:
    for _ in range(WARM):  # every slot and page touched once: faults, growth
        hand_over()
    rates = []
    for _ in range(chunks):
        t = time.perf_counter_ns()
        for _ in range(per):
            hand_over()
        rates.append(size * per / (time.perf_counter_ns() - t))
    rates.sort()
    return rates[len(rates) // 2]


# ---- latency -------------------------------------------------------------------------------


def echo_mmfpy(name: str, cpu: int, n: int, spin: float | None) -> None:
    pin(cpu)
    ping = mmfpy.SharedValue.open(name + "-ping")
    pong = mmfpy.SharedValue.open(name + "-pong")
    seen = 0
    for _ in range(n):
        seen = ping.wait_newer(seen, 60, spin=spin)
        pong.store(ping.retrieve())


def latency_mmfpy(
    name: str, cpu_a: int, cpu_b: int, n: int, batch: int, spin: float | None
) -> float:
    ping = mmfpy.SharedValue.create(name + "-ping")
    pong = mmfpy.SharedValue.create(name + "-pong")
    child = ctx.Process(target=echo_mmfpy, args=(name, cpu_b, n, spin))
    child.start()
    seen = [0]

    def round_trip() -> None:
        ping.store(PAYLOAD)
        seen[0] = pong.wait_newer(seen[0], 60, spin=spin)
        pong.retrieve()

    warm = n // 10
    for _ in range(warm):
        round_trip()
    r = batched_median_us(n - warm, batch, round_trip)
    child.join(60)
    return r


def acquire_polling(sem) -> None:
    """acquire(), after polling acquire(block=False) for up to POLL seconds."""
    until = time.perf_counter() + POLL
    while not sem.acquire(False):
        if time.perf_counter() >= until:
            sem.acquire()
            return


def echo_mp(name: str, cpu: int, n: int, a, b, poll: bool) -> None:
    pin(cpu)
    seg = attach(name)
    acquire = (lambda: acquire_polling(a)) if poll else a.acquire
    for _ in range(n):
        acquire()
        data = bytes(seg.buf[:64])
        seg.buf[64:128] = data
        b.release()
    seg.close()


def latency_mp(name: str, cpu_a: int, cpu_b: int, n: int, batch: int, poll: bool) -> float:
    seg = shared_memory.SharedMemory(name=name, create=True, size=128)
    a, b = ctx.Semaphore(0), ctx.Semaphore(0)
    child = ctx.Process(target=echo_mp, args=(name, cpu_b, n, a, b, poll))
    child.start()
    acquire = (lambda: acquire_polling(b)) if poll else b.acquire

    def round_trip() -> None:
        seg.buf[:64] = PAYLOAD
        a.release()
        acquire()
        bytes(seg.buf[64:128])

    warm = n // 10
    for _ in range(warm):
        round_trip()
    try:
        return batched_median_us(n - warm, batch, round_trip)
    finally:
        child.join(60)
        seg.close()
        seg.unlink()


# ---- hand-over -----------------------------------------------------------------------------


def receive_value(name: str, size: int, cpu: int, n: int) -> None:
    pin(cpu)
    v = mmfpy.SharedValue.open(name)
    ack = mmfpy.SharedValue.open(name + "-ack")
    dst = np.empty(size, np.uint8)
    seen = 0
    for _ in range(n):
        seen = v.wait_newer(seen, 60)
        v.retrieve_into(dst)
        ack.store(b"")


def receive_view(name: str, size: int, cpu: int, n: int) -> None:
    pin(cpu)
    m = mmfpy.Mapping.open(name)
    arr = m.map().numpy(np.uint8)
    bell = mmfpy.SharedValue.open(name + "-bell")
    ack = mmfpy.SharedValue.open(name + "-ack")
    dst = np.empty(size, np.uint8)
    seen = 0
    for _ in range(n):
        seen = bell.wait_newer(seen, 60)
        np.copyto(dst, arr)
        ack.store(b"")


def receive_mp(name: str, size: int, cpu: int, n: int, ready, done) -> None:
    pin(cpu)
    seg = attach(name)
    arr = np.ndarray((size,), np.uint8, buffer=seg.buf)
    dst = np.empty(size, np.uint8)
    for _ in range(n):
        ready.acquire()
        np.copyto(dst, arr)
        done.release()
    del arr
    seg.close()


def handover(kind: str, name: str, size: int, cpu_b: int, chunks: int, per: int) -> float:
    n = WARM + chunks * per
    src = np.arange(size, dtype=np.uint64).astype(np.uint8)
    if kind == "value":
        v = mmfpy.SharedValue.create(name, capacity=size, slots=SLOTS)
        ack = mmfpy.SharedValue.create(name + "-ack")
        child = ctx.Process(target=receive_value, args=(name, size, cpu_b, n))
        child.start()
        seen = [0]

        def hand_over() -> None:
            v.store(src)
            seen[0] = ack.wait_newer(seen[0], 60)

    elif kind == "view":
        m = mmfpy.Mapping.create(name, size)
        arr = m.map().numpy(np.uint8)
        bell = mmfpy.SharedValue.create(name + "-bell")
        ack = mmfpy.SharedValue.create(name + "-ack")
        child = ctx.Process(target=receive_view, args=(name, size, cpu_b, n))
        child.start()
        seen = [0]

        def hand_over() -> None:
            np.copyto(arr, src)
            bell.store(b"")
            seen[0] = ack.wait_newer(seen[0], 60)

    else:
        seg = shared_memory.SharedMemory(name=name, create=True, size=size)
        sarr = np.ndarray((size,), np.uint8, buffer=seg.buf)
        ready, done = ctx.Semaphore(0), ctx.Semaphore(0)
        child = ctx.Process(target=receive_mp, args=(name, size, cpu_b, n, ready, done))
        child.start()

        def hand_over() -> None:
            np.copyto(sarr, src)
            ready.release()
            done.acquire()

    try:
        return median_rate(chunks, per, size, hand_over)
    finally:
        child.join(60)
        if kind == "mp":
            del sarr
            seg.close()
            seg.unlink()


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--quick"]
    quick = "--quick" in sys.argv
    name = f"mmf-bench-py-{os.getpid()}"
    if args[0] == "latency":
        kind, cpu_a, cpu_b = args[1], int(args[2]), int(args[3])
        pin(cpu_a)
        n, batch = (2_000, 100) if quick else (10_000, 200)
        if kind in ("mp", "mp-poll"):
            r = latency_mp(name, cpu_a, cpu_b, n, batch, kind == "mp-poll")
        else:
            r = latency_mmfpy(name, cpu_a, cpu_b, n, batch, 0.0 if kind == "mmfpy-sleep" else None)
    else:
        kind, size, cpu_a, cpu_b = args[1], int(args[2]), int(args[3]), int(args[4])
        pin(cpu_a)
        volume = (256 << 20) if quick else (1 << 30)
        rounds = max(volume // size, 4)
        chunks = min(rounds, 16)
        r = handover(kind, name, size, cpu_b, chunks, max(rounds // chunks, 1))
    print(f"result {r}", flush=True)


if __name__ == "__main__":
    main()
