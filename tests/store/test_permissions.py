"""Store files get the permissions a plain ``open`` would give them, so a group can share a home."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from store import Store
from store.files import atomic_write_bytes


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(home: Path) -> dict[str, int]:
    return {str(path.relative_to(home)): stat.S_IMODE(path.stat().st_mode) for path in home.rglob("*")}


def _fill(home: Path) -> None:
    store = Store(home)
    exp_id = store.create_experiment(name="shared", template="t", config={}, model="m")["id"]
    store.set_status(exp_id, "running")
    store.heartbeat(exp_id, stage="train")
    store.record_epoch(exp_id, {"epoch": 1, "cer": 0.1})
    store.record_variant(exp_id, {"name": "fp32", "cer": 0.1})
    store.append_log(exp_id, "info", "hello")
    store.tag(exp_id, add=["team"])
    store.set_status(exp_id, "finished")


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077], ids=["group-shared", "default", "private"])
def test_every_store_file_follows_the_umask(tmp_path, mask):
    home = tmp_path / "home"
    with _umask(mask):
        _fill(home)
        reference = tmp_path / "plain.txt"
        reference.write_text("made by open()")
    modes = _modes(home)
    files = [name for name in modes if (home / name).is_file()]
    assert {"index.json", "experiments"} <= set(modes) and any(
        name.endswith("heartbeat.json") for name in files
    )
    expected_file = stat.S_IMODE(reference.stat().st_mode)
    assert expected_file == 0o666 & ~mask
    assert {name: modes[name] for name in files if modes[name] != expected_file} == {}
    folders = [name for name in modes if (home / name).is_dir()]
    assert {name: modes[name] for name in folders if modes[name] != 0o777 & ~mask} == {}


def test_a_replaced_file_keeps_the_permissions_it_was_given(tmp_path):
    target = tmp_path / "doc.json"
    with _umask(0o022):
        atomic_write_bytes(target, b"{}")
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        target.chmod(0o660)  # an admin opens a home to the group
        atomic_write_bytes(target, b'{"a":1}')
    assert stat.S_IMODE(target.stat().st_mode) == 0o660
    assert target.read_bytes() == b'{"a":1}'
