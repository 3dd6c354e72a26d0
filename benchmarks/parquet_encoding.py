"""Write time and size of Parquet encodings on a representative output: the saas template's whole star schema.

Run from the repository root (with the package installed):

    python benchmarks/parquet_encoding.py                 # saas template at scale 0.5 (about 1M rows)
    python benchmarks/parquet_encoding.py --scale 1 --repeat 3

The tables are generated once into memory (not timed); each configuration then writes every table the way
writers/parquet.py does (one ParquetWriter per table, fixed row groups) into a fresh directory. Printed per
configuration: the best write time of `--repeat` runs, the total file size, and both relative to the current
default of writers/parquet.py. Compression {snappy, zstd, none} x dictionary {on, off, keys and strings only}
x row group {64k, 128k, 1M rows}.
"""
from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dbt_plotsim import generate, templates  # noqa: E402
from dbt_plotsim.spec import load_spec  # noqa: E402
from dbt_plotsim.writers import parquet as parquet_writer  # noqa: E402

ROW_GROUPS = {"64k": 1 << 16, "128k": 1 << 17, "1M": 1 << 20}
COMPRESSIONS = ("snappy", "zstd", "none")


def _string_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


def _dictionary(mode: str, schema: pa.Schema):
    return {"on": True, "off": False, "strings": _string_columns(schema) or False}[mode]


def write_all(tables: dict[str, pa.Table], out: Path, compression: str, dictionary: str, row_group: int) -> float:
    began = time.perf_counter()
    for name, table in tables.items():
        writer = pq.ParquetWriter(out / f"{name}.parquet", table.schema, compression=compression,
                                  use_dictionary=_dictionary(dictionary, table.schema))
        writer.write_table(table, row_group_size=row_group)
        writer.close()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="saas")
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    tables = generate(load_spec(templates.load(args.template), scale=args.scale))
    rows = sum(t.num_rows for t in tables.values())
    print(f"{args.template} x {args.scale}: {len(tables)} tables, {rows:,} rows, "
          f"{sum(t.nbytes for t in tables.values()) / 2**20:.0f} MiB in memory; best of {args.repeat}")
    print(f"current default: compression={parquet_writer.COMPRESSION}, dictionary={parquet_writer.DICTIONARY}, "
          f"row group={parquet_writer.ROW_GROUP_ROWS:,}")
    results = []
    for compression, dictionary, (group_name, group) in itertools.product(
            COMPRESSIONS, ("on", "off", "strings"), ROW_GROUPS.items()):
        best, size = float("inf"), 0
        for _ in range(args.repeat):
            out = Path(tempfile.mkdtemp(prefix="plotsim-enc-"))
            try:
                best = min(best, write_all(tables, out, compression, dictionary, group))
                size = sum(f.stat().st_size for f in out.iterdir())
            finally:
                shutil.rmtree(out)
        results.append((compression, dictionary, group_name, best, size))
    base = next((r for r in results if (r[0], r[1], r[2]) == ("zstd", "on", "64k")), results[0])
    print(f"{'compression':<12}{'dictionary':<11}{'row group':<10}{'write s':>9}{'MiB':>8}{'Mrows/s':>9}"
          f"{'time/zstd-on-64k':>18}{'size/zstd-on-64k':>18}")
    for compression, dictionary, group_name, seconds, size in results:
        print(f"{compression:<12}{dictionary:<11}{group_name:<10}{seconds:>9.2f}{size / 2**20:>8.1f}"
              f"{rows / seconds / 1e6:>9.2f}{seconds / base[3]:>18.2f}{size / base[4]:>18.2f}")


if __name__ == "__main__":
    main()
