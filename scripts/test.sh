#!/usr/bin/env bash
# Install everything the tests need into .venv (dbt, DuckDB, pyspark, the package) and run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k lags`. Tests run on 2 processes (pytest-xdist:
# the machine's 2 cores), each test file on one of them: a file's module fixtures (a dbt project's build,
# a Spark session) are made once, and no two processes share a dbt project's folder. PLOTSIM_TEST_WORKERS=0
# runs them in this one.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'

set +e
.venv/bin/python -m pytest -n "${PLOTSIM_TEST_WORKERS:-2}" --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
