"""Interoperability with the Rust side: values stored from Python are read by the `mmf` CLI (the
library's Rust API) and the reverse, and an asyncio wait is woken by a store from the CLI."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from conftest import WATCHDOG, run_cli

import mmfpy

BINARY = bytes(range(256)) * 3 + b"\0trailing"


def test_python_store_is_retrieved_by_the_cli(name, cli):
    v = mmfpy.SharedValue.create(name)
    v.store(BINARY)
    assert run_cli(cli, "retrieve", name) == BINARY  # byte-exact
    info = json.loads(run_cli(cli, "info", "--json", name))
    assert (info["name"], info["version"], info["value_len"]) == (name, 1, len(BINARY))
    v.close()


def test_cli_store_is_retrieved_by_python(name, cli):
    run_cli(cli, "store", name, "-", input=BINARY)
    try:
        v = mmfpy.SharedValue.open(name)
        assert v.retrieve_versioned() == (1, BINARY)
        run_cli(cli, "store", name, "second")
        assert v.retrieve_versioned() == (2, b"second")
        v.close()
    finally:
        mmfpy.remove(name)


def test_cli_lists_python_objects(name, cli):
    m = mmfpy.Mapping.create(name, 8192)
    listing = json.loads(run_cli(cli, "info", "--json", name))
    assert (listing["size"], listing["kind"], listing["lifetime"]) == (8192, "plain", "handle")
    assert listing["holder_pids"] == [os.getpid()]
    m.close()


def test_await_changed_is_woken_by_a_store_from_the_cli(name, cli):
    v = mmfpy.SharedValue.create(name)
    v.store(b"before")

    async def main():
        waiter = asyncio.create_task(v.changed(v.version))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        store = await asyncio.create_subprocess_exec(cli, "store", name, "from the cli")
        assert await asyncio.wait_for(store.wait(), WATCHDOG) == 0
        return await asyncio.wait_for(waiter, WATCHDOG)

    assert asyncio.run(main()) == 2
    assert v.retrieve() == b"from the cli"
    v.close()


def test_a_python_mapping_is_dumped_by_the_cli(name, cli):
    m = mmfpy.Mapping.create(name, 4096)
    m.map().write(0, b"raw bytes")
    out = run_cli(cli, "dump", name)
    assert out[:9] == b"raw bytes" and len(out) == 4096
    m.close()
