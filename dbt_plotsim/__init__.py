"""dbt-plotsim: synthetic dbt sources whose metrics follow trajectories, correlate and lag like real data."""
__version__ = "0.1.0"

from .api import generate, spec_hash, stream, write_duckdb, write_parquet  # noqa: E402
from .errors import PlotsimError, SpecError, WriteError  # noqa: E402
from .spec import Spec, load_spec  # noqa: E402

__all__ = [
    "PlotsimError", "Spec", "SpecError", "WriteError", "generate", "load_spec", "spec_hash", "stream",
    "write_duckdb", "write_parquet",
]
