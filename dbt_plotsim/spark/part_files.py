"""The part files one Spark task (or the driver's replay) writes: `<folder>/<table>/part-<index>.parquet`,
each under a temporary name until close() renames it, so a retried task replaces its files whole."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa


def part(folder: Path, name: str, index: int) -> Path:
    return folder / name / f"part-{index:06d}.parquet"


class PartFiles:
    def __init__(self, index: int):
        self.index = index
        self.writers: dict[tuple[str, str], tuple] = {}  # (folder, table) -> (writer, temporary, final)

    def write(self, folder: Path, name: str, table: pa.Table, schema: pa.Schema) -> None:
        from ..writers.parquet import _RowGroupWriter

        if not table.num_rows:
            return
        key = (str(folder), name)
        if key not in self.writers:
            final = part(folder, name, self.index)
            final.parent.mkdir(parents=True, exist_ok=True)
            temporary = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}"
            self.writers[key] = (_RowGroupWriter(temporary, schema), temporary, final)
        self.writers[key][0].write(table if table.schema.equals(schema) else table.cast(schema))

    def close(self) -> None:
        for writer, temporary, final in self.writers.values():
            writer.close()
            os.replace(temporary, final)

    def abandon(self) -> None:
        """After close() or an error: whatever is still temporary goes."""
        for writer, temporary, _ in self.writers.values():
            writer.abandon()
            temporary.unlink(missing_ok=True)

    def rows(self, folder: Path) -> dict[str, int]:
        """Rows written per table into `folder`."""
        return {name: parts[0].total for (where, name), parts in self.writers.items() if where == str(folder)}
