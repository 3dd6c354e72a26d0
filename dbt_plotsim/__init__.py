"""dbt-plotsim: synthetic dbt sources whose metrics follow trajectories, correlate and lag like real data."""
__version__ = "0.1.0"

# The public API is imported on first use, so the command line starts (and handles Ctrl-C) before numpy,
# scipy and DuckDB load.
_API = {
    "generate": "api", "spec_hash": "api", "stream": "api", "write_duckdb": "api", "write_parquet": "api",
    "write_files": "api", "write_partitioned_parquet": "api", "write_csv": "api", "write_jsonl": "api",
    "PlotsimError": "errors", "SpecError": "errors", "WriteError": "errors", "Spec": "spec", "load_spec": "spec",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'dbt_plotsim' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
