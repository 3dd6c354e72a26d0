"""`dbt-plotsim` command line: validate, inspect and generate a spec. Exit 2 on a user's mistake."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import __version__
from .errors import PlotsimError, SpecError

EXIT_USER_ERROR = 2
EXIT_BUG = 1
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as other command-line tools end when their output is closed


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbt-plotsim",
        description="Synthetic sources whose metrics follow trajectories, correlate and lag like real data.",
    )
    parser.add_argument("--version", action="version", version=f"dbt-plotsim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_spec(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("spec", metavar="SPEC", help="a spec YAML file, or a dbt sources YAML (with --source)")
        sub.add_argument("--source", help="in a dbt sources YAML: the synthetic source to use (needed if several)")
        sub.add_argument("--scale", type=float, default=1.0,
                         help="multiply every segment count (0.01 for a quick sample, 10 for a load test)")
        sub.add_argument("--as-of", dest="as_of", default=None, metavar="DATE",
                         help="how much of the window has happened (window.as_of): rows up to its period only")

    def generated_source(sub: argparse.ArgumentParser) -> None:
        where = sub.add_mutually_exclusive_group(required=True)
        where.add_argument("--duckdb", metavar="FILE", help="a DuckDB file written by dbt-plotsim or dbt")
        where.add_argument("--parquet", metavar="DIR", help="a Parquet set, or a CSV, JSONL or partitioned Parquet set, "
                           "written by dbt-plotsim generate")
        sub.add_argument("--schema", default="main", help="with --duckdb: the source's schema (default: main)")
        sub.add_argument("--source", help="with --duckdb: the source, when the schema holds several")

    gen = commands.add_parser("generate", help="write the star schema to Parquet files or a DuckDB database")
    with_spec(gen)
    gen.add_argument("--out", required=True,
                     help="directory for Parquet files, or the DuckDB database file (.duckdb, .db: --format duckdb)")
    gen.add_argument("--format", choices=("parquet", "duckdb", "csv", "jsonl"), default=None,
                     help="default: duckdb when --out ends in .duckdb or .db, else parquet; csv and jsonl write "
                     "<table>.csv / <table>.jsonl files into --out")
    gen.add_argument("--partition-by", dest="partition_by", default=None, metavar="period|COLUMN",
                     help="with --format parquet: Hive directories <table>/<column>=<value>/ by the date key of "
                     "facts and events (period) or by a column; tables without it stay one file")
    gen.add_argument("--schema", default="main", help="DuckDB schema for the tables (default: main)")
    gen.add_argument("--chunk-entities", type=_positive_int, default=None,
                     help="entities generated per chunk (rounded to blocks of 1024); output does not change")
    from .writers.overlap import DEFAULT_WORKERS

    gen.add_argument("--workers", type=_positive_int, default=DEFAULT_WORKERS, help=(
        f"threads generating blocks, the next chunk drawn while one is written (default: {DEFAULT_WORKERS}, "
        "this machine's cores up to 2); output does not change"))
    gen.add_argument("--quiet", action="store_true",
                     help="no estimate and no progress on stderr (a bar on a terminal, else a line every 5 s)")
    gen.add_argument("--engine", choices=("local", "spark"), default="local",
                     help="local (default), or spark: blocks drawn by Spark tasks, the same rows (Parquet only)")
    gen.add_argument("--spark-master", default=None, metavar="URL", help=(
        "with --engine spark: local[*], spark://host:7077, yarn, k8s://... (default: spark-submit's, else local[*])"))

    val = commands.add_parser("validate", help="check a spec and report every problem at once")
    with_spec(val)
    info = commands.add_parser("info", help="tables, row counts and estimated size of a spec's output")
    with_spec(info)
    sync = commands.add_parser("sync-sources", help=(
        "write generated tables, columns, descriptions and data tests into a dbt sources YAML (in place)"))
    sync.add_argument("path", metavar="PATH", help="the sources YAML to update")
    sync.add_argument("--source", help="only this synthetic source")
    check = commands.add_parser("verify", help=(
        "re-derive a generated source's invariants (content hashes, keys, truth tables) from the data; exit 1 "
        "listing what fails"))
    generated_source(check)
    report = commands.add_parser("report", help=(
        "write a fidelity report of a generated source: one self-contained HTML page (declared against "
        "delivered correlations, lags, distributions; trajectories, arrivals, seasonality, keys) and a JSON"))
    generated_source(report)
    report.add_argument("--out", default="report.html", help="the HTML page (default: report.html); the JSON "
                        "is written beside it with the same name")
    commands.add_parser("templates", help="list the bundled domain templates")
    show = commands.add_parser("template", help="print a bundled template (a complete spec to start from)")
    show.add_argument("name", metavar="NAME")
    return parser


def main(argv: list[str] | None = None) -> int:
    from .interrupts import Interrupted, handled, report_bug, swallowed

    try:
        with handled():
            return _run(_parser().parse_args(argv))
    except SpecError as exc:
        print(f"error: {exc.render()}", file=sys.stderr)
        return EXIT_USER_ERROR
    except PlotsimError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Interrupted as exc:
        print(exc.message(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(Interrupted().message(), file=sys.stderr)
        return Interrupted().exit_code
    except BrokenPipeError:  # the reader went away (`| head`): whatever was written stays; say nothing more
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug: one line here, the traceback in a file
        stopped = swallowed(exc)
        if stopped is not None:
            print(stopped.message(), file=sys.stderr)
            return stopped.exit_code
        print(report_bug(exc), file=sys.stderr)
        return EXIT_BUG


def _load(args: argparse.Namespace):
    from .sources import is_sources_yaml, source_from_yaml
    from .spec import load_spec

    if is_sources_yaml(args.spec):
        return load_spec(source_from_yaml(args.spec, args.source).spec, scale=args.scale, as_of=args.as_of)
    return load_spec(args.spec, scale=args.scale, as_of=args.as_of)


def _run(args: argparse.Namespace) -> int:
    from .api import stream

    if args.command == "templates":
        from . import templates

        for name in templates.names():
            print(f"{name:<14}{templates.describe(name)}")
        return 0
    if args.command == "template":
        from . import templates

        print(templates.text(args.name), end="")
        return 0
    if args.command == "sync-sources":
        from .sync import sync_file

        synced = sync_file(args.path, args.source)
        print(f"{args.path}: synced {', '.join(synced)}")
        return 0
    if args.command == "verify":
        return _verify(args)
    if args.command == "report":
        return _report(args)
    spec = _load(args)
    from .engine.plan import plan_for

    for warning in plan_for(spec).warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.command == "validate":
        print(f"{args.spec}: valid ({spec.entity_count:,} {spec.unit} entities, {len(spec.metrics)} metrics)")
        _print_fit(spec)
        return 0
    if args.command == "info":
        generation = stream(spec)
        _print_info(generation)
        _print_fit(spec)
        return 0
    began = time.perf_counter()
    if args.format is None:
        args.format = "duckdb" if str(args.out).lower().endswith((".duckdb", ".db")) else "parquet"
    if args.engine == "spark":
        from .spark.runner import cli_generate

        return cli_generate(args, spec)
    with _observer(args, spec) as progress:
        return _generate(args, spec, began, progress)


def _generate(args: argparse.Namespace, spec, began: float, progress) -> int:
    if args.partition_by is not None or args.format in ("csv", "jsonl"):
        from .api import write_files

        tables = list(write_files(spec, args.out, args.format, partition_by=args.partition_by,
                                  chunk_entities=args.chunk_entities, workers=args.workers, progress=progress))
        where = args.out
    elif args.format == "duckdb":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        outcome = _into_duckdb(args, spec, progress)
        tables = outcome.tables
        where = f"{args.out} (schema {args.schema})"
        if outcome.status == "appended":
            print(f"appended to {len(tables)} tables in {where} in {outcome.seconds:.1f}s: {outcome.detail}")
            return 0
    else:
        from .materialize import generate_parquet

        outcome = generate_parquet(spec, args.out, chunk_entities=args.chunk_entities, workers=args.workers,
                                   progress=progress)
        tables, where = outcome.tables, args.out
        if outcome.status == "appended":
            print(f"appended to {len(tables)} tables in {where} in {outcome.seconds:.1f}s: {outcome.detail}")
            return 0
    seconds = time.perf_counter() - began
    print(f"wrote {len(tables)} tables to {where} in {seconds:.1f}s: {', '.join(tables)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .verify import verify_duckdb, verify_parquet

    found = verify_parquet(args.parquet) if args.parquet else verify_duckdb(args.duckdb, args.schema, args.source)
    for line in found.checked:
        print(f"checked {line}")
    for line in found.failures:
        print(f"FAIL {line}")
    print("verified: every check holds" if found.ok else f"{len(found.failures)} check(s) failed")
    return 0 if found.ok else 1


def _report(args: argparse.Namespace) -> int:
    from .report import write_report

    if args.parquet:
        written = write_report(args.out, parquet=args.parquet)
    else:
        written = write_report(args.out, duckdb=args.duckdb, schema=args.schema, source=args.source)
    print(f"wrote {written.html} and {written.json}: {written.summary}")
    return 0


def _observer(args: argparse.Namespace, spec):
    """Print the estimate, then report progress on stderr: a tqdm bar on a terminal, else a plain line every
    PLAIN_EVERY seconds (logs, CI); with --quiet neither (no observer)."""
    from contextlib import nullcontext

    from .api import stream
    from .progress import Bar, Progress, estimate

    if args.quiet:
        return nullcontext()
    print(estimate(stream(spec, chunk_entities=args.chunk_entities, workers=args.workers)).line(),
          file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        return Bar(sys.stderr)

    def line(snapshot) -> None:
        print(f"progress: {'done, ' if snapshot.final else ''}{snapshot.line()}", file=sys.stderr, flush=True)

    return Progress(line, every=PLAIN_EVERY)


PLAIN_EVERY = 5.0  # seconds between plain progress lines


def _into_duckdb(args: argparse.Namespace, spec, progress=None):
    """Generate into a DuckDB file with its state (materialize.py): a run whose spec differs only by a later
    `--as-of` appends the new periods; any other run writes everything."""
    from .materialize import materialize
    from .sources import SyntheticSource
    from .writers.duckdb import connect

    name = args.source or Path(args.spec).stem
    conn = connect(args.out)
    try:
        return materialize(SyntheticSource(name, args.schema, spec, "duckdb", None), conn,
                           chunk_entities=args.chunk_entities, workers=args.workers, skip_unchanged=False,
                           progress=progress)
    finally:
        conn.close()


def _print_fit(spec) -> None:
    from .engine.fitted import fitted_lines
    from .engine.plan import plan_for

    print("\n".join(fitted_lines(plan_for(spec))))


def _print_info(generation) -> None:
    from .progress import estimate, human_bytes

    found = estimate(generation)
    print(f"{'table':<32}{'est. rows':>14}{'columns':>9}{'est. size':>12}")
    for name, rows in found.rows.items():
        print(f"{name:<32}{rows:>14,}{found.columns[name]:>9}{human_bytes(found.sizes[name]):>12}")
    print(f"{'total (uncompressed)':<55}{human_bytes(sum(found.sizes.values())):>12}")


if __name__ == "__main__":
    sys.exit(main())
