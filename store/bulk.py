"""Fast creation of many experiments at once, for benchmarks of large stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import records
from .files import atomic_write_bytes, encode_json
from .storage import META_TABLE, SCHEMA_VERSION
from .values import new_id, now_iso


def bulk_summaries(experiments_dir: Path, count: int, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Create ``count`` finished experiment folders (files not fsynced) and return their summaries.

    The caller inserts the summaries into the index in one write.
    """
    summaries = []
    for number in range(count):
        exp_id = new_id()
        folder = experiments_dir / exp_id
        folder.mkdir(parents=True)
        now = now_iso()
        name = f"bench-{number}"
        info = {"id": exp_id, "name": name, "template": "bench", "model": "bench", "created": now,
                "command": None, "config": {"number": number}}  # fmt: skip
        tables = {META_TABLE: {"1": {"schema": SCHEMA_VERSION}}, records.INFO_TABLE: {"1": info}}
        atomic_write_bytes(folder / records.EXPERIMENT_FILE, encode_json(tables), durable=False)
        summary = dict.fromkeys(fields)
        summary.update(
            id=exp_id, name=name, template="bench", model="bench", status="finished", created=now,
            updated=now, tags=[], note="", deleted=False, best_cer=round(0.01 * (number % 97), 4),
        )  # fmt: skip
        records.write_summary_copy(folder, summary, durable=False)
        summaries.append(summary)
    return summaries
