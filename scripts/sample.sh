#!/usr/bin/env bash
# Quickstart: install dbt-plotsim into .venv, then build the sample dbt project (sample_project/):
# generate the synthetic SaaS source into DuckDB, build staging -> intermediate -> marts, run every test.
# Needs only Python 3.10+ and pip. Set PLOTSIM_SAMPLE_DB to choose where the DuckDB file goes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$python" -m venv .venv
fi
echo "==> installing dbt-plotsim (with dbt-core, dbt-duckdb, DuckDB) into .venv"
# `dbt deps` links sample_project/dbt_packages/dbt_plotsim back to this directory; setuptools' package
# discovery follows that link round and round, so drop it here (dbt deps recreates it below).
rm -rf sample_project/dbt_packages
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .

cd sample_project
export PLOTSIM_SAMPLE_DB="${PLOTSIM_SAMPLE_DB:-$PWD/sample.duckdb}"
case "$PLOTSIM_SAMPLE_DB" in /*) ;; *) PLOTSIM_SAMPLE_DB="$PWD/$PLOTSIM_SAMPLE_DB" ;; esac

echo "==> dbt deps"
"$root/.venv/bin/dbt" deps
echo "==> dbt build --vars '{plotsim_generate: true}'"
"$root/.venv/bin/dbt" build --vars '{plotsim_generate: true}'

query="select year(month_start) as year,
       sum(new_mrr_usd)::bigint as new_mrr,
       sum(expansion_mrr_usd)::bigint as expansion,
       -sum(contraction_mrr_usd)::bigint as contraction,
       -sum(churned_mrr_usd)::bigint as churned,
       sum(closing_mrr_usd) filter (where month(month_start) = 12)::bigint as mrr_in_december
from marts.mrr_movements group by 1 order by 1"
cat <<EOF

Done. The warehouse is $PLOTSIM_SAMPLE_DB
  raw_saas      synthetic source tables (written by dbt-plotsim)
  staging       stg_ views, one per raw table
  intermediate  int_accounts, int_account_months, int_account_activity_monthly, int_invoices
  marts         mrr_movements, revenue_by_plan, cohort_retention, churn_vs_engagement,
                engagement_revenue_lag, usage_by_engagement, stage_funnel

Where MRR came from and went, year by year (USD); query to try:
$query

EOF
"$root/.venv/bin/python" - "$PLOTSIM_SAMPLE_DB" "$query" <<'EOF'
import sys

import duckdb

duckdb.connect(sys.argv[1], read_only=True).sql(sys.argv[2]).show()
EOF
echo "More queries: sample_project/README.md"
