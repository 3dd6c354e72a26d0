"""The as-of clock (engine/clock.py): a source generated as of A holds exactly the rows of the whole story that
exist by A, nothing a later period would reveal, and every one of its rows is the same row, with the same key,
at any later as_of, whatever the steps taken."""
from __future__ import annotations

import copy
from collections import Counter

import duckdb
import pyarrow as pa
import pytest
import yaml

import dbt_plotsim
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.errors import SpecError
from dbt_plotsim.templates import text

from .conftest import assert_problem, tiny_dict

# Every kind of table: arrivals, a terminal event, sub-entities that come and go, their events, transactions and
# lines, a bridge, SCD2 history, stages, a declared 1:1 dimension (the saas template at 6% of its size).
SAAS = yaml.safe_load(text("saas"))
STEPS = ["2023-04-30", "2023-09-01", "2024-06-15", "2025-02-01"]
# where a row sits in time, per column name; rows of such a table after the clock must not exist
PERIOD_COLUMNS = ("date_key", "created_date_key", "added_date_key", "first_date_key", "valid_from")
REVEALED = ("ended_date_key", "removed_date_key", "valid_to", "is_current", "end_position", "plan")


def generated(as_of: str | None) -> dict[str, pa.Table]:
    spec = dbt_plotsim.load_spec(copy.deepcopy(SAAS), scale=0.06, as_of=as_of)
    return start(spec).tables()


@pytest.fixture(scope="module")
def story() -> dict[str, dict[str, pa.Table]]:
    return {as_of: generated(as_of) for as_of in [*STEPS, None]}


def key(as_of: str | None) -> int:
    """Date key of the period (month) holding as_of."""
    if as_of is None:
        return 99991231
    return int(as_of[:4]) * 10000 + int(as_of[5:7]) * 100 + 1


def test_the_window_end_changes_nothing(story):
    spec = dbt_plotsim.load_spec(copy.deepcopy(SAAS), scale=0.06, as_of=str(SAAS["window"]["end"]))
    at_end = start(spec).tables()
    assert all(at_end[name].equals(table) for name, table in story[None].items())


def test_nothing_after_the_clock_exists_or_shows(story):
    for as_of in STEPS:
        bound = key(as_of)
        for name, table in story[as_of].items():
            for column in PERIOD_COLUMNS + ("ended_date_key", "removed_date_key"):
                if column in table.column_names and name != "dim_date":
                    values = table[column]
                    if pa.types.is_date(values.type):
                        values = pa.array([int(d.strftime("%Y%m%d")) if d else None for d in values.to_pylist()])
                    worst = pa.compute.max(values).as_py()
                    assert worst is None or worst <= bound, (as_of, name, column, worst)
            if "occurred_at" in table.column_names:
                latest = pa.compute.max(table["occurred_at"]).as_py()
                assert latest is None or int(latest.strftime("%Y%m%d")) < bound + 100, (as_of, name, latest)


def test_every_row_up_to_the_clock_is_there_and_unchanged_later(story):
    """At A, every row is a row of any later step, equal in every column but those a later period reveals
    (which are null, or already what they will be); tables with a period column hold exactly the later rows
    up to A. Checked between each step and the next, and the last step and the window's end."""
    moments = [*STEPS, None]
    for earlier, later in zip(moments, moments[1:]):
        assert_grows(story[earlier], story[later], key(earlier))


def test_one_step_from_the_first_clock_to_the_end_is_the_same(story):
    assert_grows(story[STEPS[0]], story[None], key(STEPS[0]))


def assert_grows(before: dict[str, pa.Table], after: dict[str, pa.Table], bound: int) -> None:
    """Every row of `before` is in `after` (revealed columns aside); period tables: exactly the rows to `bound`."""
    for name, table in before.items():
        if name.startswith("_plotsim_truth"):  # derived from the rows at the clock: rewritten by every load
            continue
        then = after[name]
        stable = [c for c in table.column_names if c not in REVEALED]
        now_rows = Counter(map(tuple, zip(*(table[c].to_pylist() for c in stable))))
        then_rows = Counter(map(tuple, zip(*(then[c].to_pylist() for c in stable))))
        assert not now_rows - then_rows, (name, bound, list(now_rows - then_rows)[:3])
        period = next((c for c in PERIOD_COLUMNS if c in table.column_names), None)
        if period is not None and name != "dim_date":
            values = then[period].to_pylist()
            if pa.types.is_date(then[period].type):
                values = [int(d.strftime("%Y%m%d")) for d in values]
            assert sum(v <= bound for v in values) == table.num_rows, (name, bound)
        first = table.column_names[0]
        if first.endswith("_id") and len(set(then[first].to_pylist())) == then.num_rows:
            later_rows = {row[first]: row for row in then.to_pylist()}
            for row in table.to_pylist():
                for column in set(REVEALED) & set(row) - {"is_current", "end_position", "plan"}:
                    assert row[column] in (None, later_rows[row[first]][column]), (name, bound, column)




def test_tables_stay_whole_at_every_step(story):
    for as_of in STEPS:
        conn = duckdb.connect()
        for name, table in story[as_of].items():
            conn.register(name, table)
        orphans = conn.execute("""select
            (select count(*) from evt_user_login e anti join dim_user u using (user_id)),
            (select count(*) from dim_user u anti join dim_account a using (account_id)),
            (select count(*) from fct_invoice_line l anti join fct_invoice i using (invoice_id)),
            (select count(*) from fct_invoice i anti join (select invoice_id from fct_invoice_line) l using (invoice_id)),
            (select count(*) from fct_account_monthly f anti join dim_account a using (account_id)),
            (select count(*) from bridge_account_feature b anti join dim_account a using (account_id))
        """).fetchone()
        assert orphans == (0,) * 6, (as_of, orphans)
        current = conn.execute("""select count(*), count(distinct account_id), bool_and(a.plan = h.plan)
            from dim_account_plan_history h join dim_account a using (account_id) where is_current""").fetchone()
        accounts = conn.execute("""select count(*) from dim_account where ended_date_key is null
            or ended_date_key = (select max(date_key) from fct_account_monthly)""").fetchone()[0]
        assert current == (accounts, accounts, True), as_of  # ended before the clock's period: closed
        versions = conn.execute("""select count(*) from fct_account_monthly f
            anti join dim_account_plan_history h using (plan_history_id)""").fetchone()[0]
        assert versions == 0, as_of
        late = conn.execute("""select count(*) from fct_account_monthly f join dim_account a using (account_id)
            where a.ended_date_key is not null and f.date_key > a.ended_date_key""").fetchone()[0]
        assert late == 0


def test_the_end_position_is_the_position_at_the_clock(story):
    for as_of in STEPS:
        tables = story[as_of]
        last = tables["trajectory"].filter(pa.compute.equal(tables["trajectory"]["date_key"], key(as_of)))
        at = dict(zip(last["account_id"].to_pylist(), last["position"].to_pylist()))
        units = tables["dim_account"]
        ended = units["ended_date_key"].to_pylist()
        for account, position, end in zip(units["account_id"].to_pylist(), units["end_position"].to_pylist(), ended):
            if end is None:  # active at the clock: its row of that period is there
                assert at[account] == position


def test_as_of_outside_the_window_is_refused():
    spec = tiny_dict()
    spec["window"]["as_of"] = "2030-01-01"
    assert_problem(spec, "window.as_of", "outside the window")
    with pytest.raises(SpecError, match="window.as_of: 'yesterday' is not a date"):
        dbt_plotsim.load_spec(tiny_dict(), as_of="yesterday")


def test_the_cli_takes_as_of(tmp_path, capsys):
    from dbt_plotsim.cli import main

    path = tmp_path / "spec.yml"
    path.write_text(yaml.safe_dump(tiny_dict()))
    assert main(["generate", str(path), "--out", str(tmp_path / "w.duckdb"), "--as-of", "2024-03"]) == 0
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as conn:
        assert conn.execute("select max(date_key), count(distinct date_key) from fct_mrr").fetchone() == (20240301, 3)
