"""Regenerate the golden determinism file after an intended change of generated values:

    python tests/golden/regenerate.py

It writes tests/golden/saas_example.json: per table the row count and a SHA-256 of its contents
(floats rounded to 30 significant bits, about 9 digits, so a last-bit difference between library builds does not
count as a change), plus the first rows of each table for humans reading a diff.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).parent
SPEC = HERE.parent / "data" / "saas_example.yml"
GOLDEN = HERE / "saas_example.json"


def table_digest(table: pa.Table) -> str:
    digest = hashlib.sha256()
    for name in table.column_names:
        column = table.column(name)
        digest.update(name.encode())
        if pa.types.is_floating(column.type):
            values = np.nan_to_num(column.to_numpy(zero_copy_only=False).astype(np.float64), nan=0.0)
            mantissa, exponent = np.frexp(values)
            rounded = np.ldexp(np.round(mantissa * 2.0**30) / 2.0**30, exponent)  # 30 significant bits
            digest.update(rounded.tobytes())
            digest.update(pc.is_null(column).to_numpy(zero_copy_only=False).tobytes())
        else:
            digest.update("\x1f".join(map(str, column.to_pylist())).encode())
    return digest.hexdigest()


def _readable(value):
    """Head rows for humans: floats to 6 significant digits, dates as ISO text."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value if isinstance(value, (int, str, type(None))) else str(value)


def snapshot() -> dict:
    import dbt_plotsim

    tables = dbt_plotsim.generate(SPEC)
    return {
        name: {
            "rows": table.num_rows,
            "sha256": table_digest(table),
            "head": [{k: _readable(v) for k, v in row.items()} for row in table.slice(0, 3).to_pylist()],
        }
        for name, table in tables.items()
    }


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(snapshot(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)
