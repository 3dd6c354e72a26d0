"""Transaction facts with fan-out: rows per entity-period follow a metric, amounts follow another, and the
lines of each transaction add up to its amount exactly, to the cent."""
from __future__ import annotations

import copy
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.pipeline import start
from dbt_plotsim.engine.transactions import (
    TransactionsComponent,
    money,
    split_lines,
    timed_cells,
)

from .conftest import registered

BASE: dict = {
    "unit": "store",
    "window": {"start": "2024-01-01", "end": "2025-06-30", "grain": "month"},
    "seed": 21,
    "arrivals": {"pattern": "uniform", "until": 0.5},
    "metrics": [
        {"name": "engagement", "type": "score"},
        {"name": "revenue", "type": "amount", "range": [100, 100000]},
    ],
    "segments": [
        {"name": "growers", "count": 300, "archetype": "growth"},
        {"name": "churners", "count": 200, "archetype": "churn"},
    ],
    "events": [{"name": "closure", "when": {"metric": "engagement", "below": 0.25, "for": 2}, "terminal": True}],
    "transactions": [
        {"name": "order", "per_period": {"mean": 2.5, "follows": "engagement"},
         "amount": {"distribution": "lognormal", "range": [10, 2000], "follows": "revenue"},
         "lines": {"min": 1, "max": 6, "quantity": [1, 4]}},
        {"name": "refund", "per_period": {"mean": 0.5},
         "amount": {"distribution": "gamma", "range": [1, 300]}},
        {"name": "invoice", "per_period": {"mean": 1, "follows": "revenue"},
         "amount": {"distribution": "normal", "range": [100, 900]},
         "lines": {"min": 2, "max": 9, "mean": 4}},
    ],
}


@pytest.fixture(scope="module")
def tables():
    return dbt_plotsim.generate(BASE)


@pytest.fixture(scope="module")
def conn(tables):
    connection = registered(tables)
    yield connection
    connection.close()


def one(conn, sql):
    return conn.execute(sql).fetchall()[0]


# ------------------------------------------------------------------ layout and keys

def test_tables_and_columns(tables):
    assert tables["fct_order"].column_names == ["order_id", "store_id", "date_key", "occurred_at", "amount"]
    assert tables["fct_order_line"].column_names == ["order_line_id", "order_id", "line_number", "quantity", "amount"]
    assert "fct_refund_line" not in tables  # no `lines`: no line table
    assert tables["fct_order"].schema.field("amount").type == pa.decimal128(18, 2)  # exact money
    for name in ("fct_order", "fct_order_line", "fct_refund"):
        schema = tables[name].schema
        assert schema.metadata[b"description"]
        assert all(f.metadata and f.metadata[b"description"] for f in schema), name


@pytest.mark.parametrize("table,key", [("fct_order", "order_id"), ("fct_order_line", "order_line_id"),
                                       ("fct_refund", "refund_id"), ("fct_invoice_line", "invoice_line_id")])
def test_ids_run_one_to_n_in_output_order(tables, table, key):
    ids = tables[table].column(key).to_numpy()
    assert ids.size > 100 and np.array_equal(ids, np.arange(1, ids.size + 1))


@pytest.mark.parametrize("table,column,target,field", [
    ("fct_order", "store_id", "dim_store", "store_id"),
    ("fct_order", "date_key", "dim_date", "date_key"),
    ("fct_order_line", "order_id", "fct_order", "order_id"),
    ("fct_refund", "store_id", "dim_store", "store_id"),
    ("fct_invoice_line", "invoice_id", "fct_invoice", "invoice_id"),
])
def test_foreign_keys_resolve(conn, table, column, target, field):
    (orphans,) = one(conn, f"""select count(*) from {table} f left join {target} t on f.{column} = t.{field}
                               where t.{field} is null""")
    assert orphans == 0


@pytest.mark.parametrize("table", ["fct_order", "fct_refund", "fct_invoice"])
def test_rows_only_in_active_periods_and_inside_them(conn, table):
    # the trajectory table has exactly the active entity-periods (from arrival to the terminal event)
    (outside,) = one(conn, f"""
        select count(*) from {table} f
        left join trajectory t using (store_id, date_key)
        join dim_date d using (date_key)
        where t.store_id is null or cast(f.occurred_at as date) not between d.period_start and d.period_end""")
    assert outside == 0
    (ended,) = one(conn, "select count(*) from dim_store where ended_date_key is not null")
    assert ended > 10  # the terminal event happens, so the upper bound is exercised


def test_rows_ordered_by_entity_then_time(tables):
    order = tables["fct_order"]
    store = order.column("store_id").to_numpy()
    moment = order.column("occurred_at").to_numpy()
    assert np.all(np.diff(store) >= 0)
    same = np.diff(store) == 0
    assert np.all(np.diff(moment)[same] >= np.timedelta64(0, "s"))


# ------------------------------------------------------------------ lines

def _mismatches(conn, line_table: str = "fct_order_line") -> int:
    (bad,) = one(conn, f"""
        select count(*) from fct_order o
        full outer join (select order_id, sum(amount) as total from {line_table} group by 1) l using (order_id)
        where l.total is null or o.amount is null or l.total <> o.amount""")
    return bad


def test_line_amounts_sum_exactly_to_the_order(conn, tables):
    assert _mismatches(conn) == 0  # exact: decimal(18, 2), no tolerance
    lines = tables["fct_order_line"]
    cents = np.array([int(value * 100) for value in lines.column("amount").to_pylist()])
    cents[0] += 1
    broken = lines.set_column(4, "amount", money(cents))
    conn.register("broken_lines", broken)
    assert _mismatches(conn, "broken_lines") == 1  # a single cent off is caught


@pytest.mark.parametrize("table,low,high,quantity,both_ends", [
    ("order", 1, 6, (1, 4), True),  # uniform: both ends are common
    ("invoice", 2, 9, (1, 1), False),  # 2 + binomial(7, 2/7): 9 lines has probability 1.5e-4
])
def test_lines_within_their_ranges(conn, table, low, high, quantity, both_ends):
    fewest, most, bad_numbers, smallest, q_low, q_high = one(conn, f"""
        with per as (
            select {table}_id, count(*) as n, min(line_number) as first, max(line_number) as last,
                   count(distinct line_number) as distinct_numbers
            from fct_{table}_line group by 1
        )
        select min(n), max(n), count(*) filter (where first <> 1 or last <> n or distinct_numbers <> n),
               (select min(amount) from fct_{table}_line), (select min(quantity) from fct_{table}_line),
               (select max(quantity) from fct_{table}_line)
        from per""")
    assert low <= fewest and most <= high and bad_numbers == 0
    assert (fewest, most) == (low, high) or not both_ends
    assert smallest >= Decimal("0.01")
    assert (q_low, q_high) == quantity


def test_mean_lines(conn):
    # lines: min 2 + binomial(7, 2/7): mean 4 within 0.05 (sd of the mean over ~5,000 invoices is ~0.02)
    (mean,) = one(conn, "select count(*) / count(distinct invoice_id) from fct_invoice_line")
    assert mean == pytest.approx(4, abs=0.05)


def test_split_lines_is_exact_and_gives_every_line_a_cent():
    spec_lines = SimpleNamespace(min=1, max=5, mean=None, quantity=(1, 3))
    rngs = [np.random.default_rng(i) for i in range(3)]
    cents = np.r_[np.arange(5, 10), np.random.default_rng(9).integers(5, 10**7, 2000)]
    lines, quantity, line_cents = split_lines(spec_lines, cents, *rngs)
    first = np.cumsum(lines) - lines
    assert np.array_equal(np.add.reduceat(line_cents, first), cents)
    assert line_cents.min() >= 1 and lines.min() >= 1 and lines.max() <= 5
    assert quantity.min() >= 1 and quantity.max() <= 3
    # lines with more quantity get more of the amount, on average (Dirichlet weighted by quantity)
    share = line_cents / np.repeat(cents, lines)
    assert share[quantity == 3].mean() > share[quantity == 1].mean()


# ------------------------------------------------------------------ following metrics

def test_rows_per_period_follow_engagement(conn):
    # pooled rows per active store-month: 2.5 within 8% (mean of 2.5 x engagement / its pooled mean)
    rows, cells = one(conn, "select (select count(*) from fct_order), (select count(*) from trajectory)")
    assert rows / cells == pytest.approx(2.5, rel=0.08)
    # the most engaged quarter of store-months has at least twice the orders of the least engaged
    low, high = one(conn, """
        with per as (
            select e.engagement, (select count(*) from fct_order o where o.store_id = e.store_id
                                  and o.date_key = e.date_key) as n,
                   ntile(4) over (order by e.engagement) as quartile
            from fct_engagement e
        )
        select avg(n) filter (where quartile = 1), avg(n) filter (where quartile = 4) from per""")
    assert high > 2 * low


def test_amounts_follow_revenue(conn):
    amount, revenue = np.array(conn.execute("""
        select cast(o.amount as double), r.revenue from fct_order o join fct_revenue r using (store_id, date_key)
    """).fetchall()).T
    rho = stats.spearmanr(amount, revenue).statistic
    # signal 0.5 on the latent scale: Spearman = 6/pi asin(0.25) = 0.48; within 0.06
    assert rho == pytest.approx(6 / np.pi * np.arcsin(0.25), abs=0.06)
    assert amount.min() >= 10 and amount.max() <= 2000


def test_amounts_without_follows_are_independent(conn):
    amount, engagement = np.array(conn.execute("""
        select cast(f.amount as double), e.engagement from fct_refund f join fct_engagement e using (store_id, date_key)
    """).fetchall()).T
    assert abs(stats.spearmanr(amount, engagement).statistic) < 0.06  # ~2,000 refunds: sd of rho ~0.02
    assert amount.min() >= 1 and amount.max() <= 300


def test_amount_distribution_is_the_truncated_family(tables):
    # refunds (gamma over [1, 300], following nothing): KS distance to the truncated family under 0.03
    # (~4,000 refunds: the 1% critical value is 0.026). Amounts that follow a metric keep this distribution
    # per cell; pooled over rows they lean towards the cells with more rows when both follow related series.
    from dbt_plotsim.engine.transactions import amount_marginal

    marginal = amount_marginal(load_spec(BASE).transactions[1])
    amount = np.sort(np.array([float(v) for v in tables["fct_refund"].column("amount").to_pylist()]))
    low, high = marginal.u_bounds
    expected = (marginal.dist.cdf(amount) - low) / (high - low)
    above = np.arange(1, amount.size + 1) / amount.size
    assert amount.size > 2000
    assert max(np.max(np.abs(above - expected)), np.max(np.abs(above - 1 / amount.size - expected))) < 0.03


# ------------------------------------------------------------------ determinism

def test_same_rows_whatever_the_chunk_size_or_threads():
    spec = copy.deepcopy(BASE)
    spec["window"]["end"] = "2024-12-31"
    spec["segments"] = [{"name": "growers", "count": 1500, "archetype": "growth"},
                        {"name": "churners", "count": 1100, "archetype": "churn"}]  # 4 blocks of 1,024
    one_chunk = dbt_plotsim.generate(spec, chunk_entities=100_000)
    per_block = dbt_plotsim.generate(spec, chunk_entities=1024, workers=2)
    for name in ("fct_order", "fct_order_line", "fct_refund", "fct_invoice", "fct_invoice_line"):
        assert one_chunk[name].num_rows > 0
        assert one_chunk[name].equals(per_block[name]), name


def test_timed_cells_rows_of_a_cell_do_not_depend_on_the_cells_after_it():
    days = np.array([31, 29, 31])
    counts = np.array([2, 0, 3, 1, 4])
    periods = np.arange(5) % 3
    cell, seconds = timed_cells(counts, periods, days, np.random.default_rng(4))
    fewer, fewer_seconds = timed_cells(counts[:3], periods[:3], days, np.random.default_rng(4))
    assert np.array_equal(cell[:5], fewer) and np.array_equal(seconds[:5], fewer_seconds)
    assert np.array_equal(cell, np.repeat(np.arange(5), counts))
    assert np.all(seconds < days[periods[cell]] * 86_400)


def test_money_is_exact():
    assert money(np.array([1234, 1, 0, 10**12])).to_pylist() == [
        Decimal("12.34"), Decimal("0.01"), Decimal("0.00"), Decimal("10000000000.00")]


# ------------------------------------------------------------------ registered dbt tests

def test_registered_tests():
    plan = start(load_spec(BASE)).plan
    tests = TransactionsComponent().tests(plan, lambda t: f"source('s', '{t}')")
    assert [n for n, _ in tests["fct_order"]["order_id"]] == ["unique", "not_null"]
    assert [n for n, _ in tests["fct_order_line"]["order_line_id"]] == ["unique", "not_null"]
    relations = {(table, column, args["to"]) for table, columns in tests.items() for column, listed in columns.items()
                 for name, args in listed if name == "relationships"}
    assert relations == {
        (f"fct_{t}", column, f"source('s', '{target}')") for t in ("order", "refund", "invoice")
        for column, target in (("store_id", "dim_store"), ("date_key", "dim_date"))
    } | {(f"fct_{t}_line", f"{t}_id", f"source('s', 'fct_{t}')") for t in ("order", "invoice")}
    assert ("dbt_plotsim.sums_match", {"key": "order_id", "to": "source('s', 'fct_order')", "field": "amount"}) \
        in tests["fct_order_line"]["amount"]
    (lifetime,) = tests["fct_order"][""]
    assert lifetime[1]["first_column"] == "first_date_key" and lifetime[1]["ended_column"] == "ended_date_key"


# ------------------------------------------------------------------ validation

def tx(name="order", **changes) -> dict:
    out = {"name": name, "per_period": {"mean": 2}, "amount": {"range": [10, 100]}, "lines": {"min": 1, "max": 3}}
    for key, value in changes.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and key in out else value
    return out


CASES = [
    ("rate follows unknown", [tx(per_period={"follows": "engagment"})], "transactions.order.per_period.follows",
     "did you mean 'engagement'"),
    ("amount follows unknown", [tx(amount={"follows": "nope"})], "transactions.order.amount.follows", "unknown metric"),
    ("amount min >= max", [tx(amount={"range": [100, 100]})], "transactions.order.amount.range", "min < max"),
    ("amount beyond 1e15", [tx(amount={"range": [1, 1e17]})], "transactions.order.amount.range",
     "reaches beyond +/-1e+15"),
    ("amount below a cent per line", [tx(amount={"range": [0.02, 5]})], "transactions.order.amount.range",
     "at least 0.03"),
    ("amount range required", [{**tx(), "amount": {"distribution": "gamma"}}], "transactions.order.amount.range", "is required"),
    ("amount mean outside range", [tx(amount={"mean": 500})], "transactions.order.amount.mean", "outside range"),
    ("amount param typo", [tx(amount={"params": {"sd": 1}})], "transactions.order.amount.params.sd",
     "not a parameter of lognormal"),
    ("amount poisson", [tx(amount={"distribution": "poisson"})], "transactions.order.amount.distribution",
     "must be 'normal'"),
    ("lines min below 1", [tx(lines={"min": 0})], "transactions.order.lines.min", "at least 1 line"),
    ("lines min above max", [tx(lines={"min": 4, "max": 2})], "transactions.order.lines.min", "min 4 is above max 2"),
    ("lines mean outside", [tx(lines={"mean": 9})], "transactions.order.lines.mean", "outside [min, max]"),
    ("lines max too large", [tx(lines={"max": 5000}, amount={"range": [100, 200]})], "transactions.order.lines.max",
     "above the limit"),
    ("quantity below 1", [tx(lines={"quantity": [0, 2]})], "transactions.order.lines.quantity", "at least 1"),
    ("duplicate names", [tx(), tx()], "transactions.order", "used more than once"),
    ("collides with a fact table", [tx("revenue")], "metrics.revenue",
     "fct_revenue is already the table of transaction revenue"),
    ("collides with another's lines", [tx(), tx("order_line", lines=None)], "transactions.order_line",
     "fct_order_line is already the line table of transaction order"),
    ("the unit itself", [tx("store")], "transactions.store", "store_id would be both keys"),
    ("rate not positive", [tx(per_period={"mean": 0})], "transactions.order.per_period.mean", "greater than 0"),
    ("typo", [tx(lines={"maximum": 3})], "transactions.order.lines.maximum", "unknown key 'maximum'"),
]


@pytest.mark.parametrize("transactions,path,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_names_the_path(transactions, path, fragment):
    spec = copy.deepcopy(BASE)
    spec["transactions"] = transactions
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert any(p.path == path and fragment in p.message for p in err.value.problems), err.value.problems


def test_all_problems_at_once():
    spec = copy.deepcopy(BASE)
    spec["transactions"] = [tx(lines={"min": 0}), tx("refund", amount={"range": [5, 1]})]
    with pytest.raises(SpecError) as err:
        load_spec(spec)
    assert {p.path for p in err.value.problems} == {"transactions.order.lines.min", "transactions.refund.amount.range"}


# ------------------------------------------------------------------ foreign keys to reference tables

PICKS = {
    "reference": [{"name": "product", "rows": [{"product": f"p{i}"} for i in range(5)]},
                  {"name": "channel", "rows": [{"channel": "web"}, {"channel": "store"}, {"channel": "phone"}]}],
    "transactions": [{**BASE["transactions"][0], "references": [{"table": "channel", "weights": {"web": 3, "store": 1}}],
                      "lines": {**BASE["transactions"][0]["lines"], "references": [{"table": "product"}]}},
                     *BASE["transactions"][1:]],
}


@pytest.fixture(scope="module")
def picked():
    return dbt_plotsim.generate({**copy.deepcopy(BASE), **copy.deepcopy(PICKS)})


def test_reference_keys_on_transactions_and_lines(picked):
    assert picked["fct_order"].schema.names == ["order_id", "store_id", "channel_id", "date_key", "occurred_at", "amount"]
    assert picked["fct_order_line"].schema.names[:4] == ["order_line_id", "order_id", "line_number", "product_id"]
    channel = np.bincount(picked["fct_order"].column("channel_id").to_numpy(), minlength=4)[1:]
    assert channel[2] == 0 and channel[0] / channel[1] == pytest.approx(3.0, rel=0.1)  # weights 3:1:0
    product = np.bincount(picked["fct_order_line"].column("product_id").to_numpy(), minlength=6)[1:]
    assert product.min() > 0 and product.max() / product.min() < 1.1  # equally likely, ~10,000 lines each


def test_reference_keys_change_no_other_column(tables, picked):
    for name in ("fct_order", "fct_order_line"):
        assert picked[name].drop([c for c in ("channel_id", "product_id") if c in picked[name].schema.names]).equals(tables[name])
    assert picked["fct_refund"].equals(tables["fct_refund"])


def test_reference_keys_register_relationships():
    plan = start(load_spec({**copy.deepcopy(BASE), **copy.deepcopy(PICKS)})).plan
    tests = TransactionsComponent().tests(plan, lambda t: t)
    assert ("relationships", {"to": "dim_channel", "field": "channel_id"}) in tests["fct_order"]["channel_id"]
    assert ("relationships", {"to": "dim_product", "field": "product_id"}) in tests["fct_order_line"]["product_id"]


@pytest.mark.parametrize("pick,path,fragment", [
    ({"table": "produce"}, "transactions.order.lines.references.produce.table", "did you mean 'product'"),
    ({"table": "product", "weights": {"p9": 1}}, "transactions.order.lines.references.product.weights.p9", "'p9'"),
    ({"table": "product", "weights": {"p1": 0}}, "transactions.order.lines.references.product.weights", "add up to 0"),
])
def test_bad_reference_keys_name_the_path(pick, path, fragment):
    data = {**copy.deepcopy(BASE), **copy.deepcopy(PICKS)}
    data["transactions"][0]["lines"]["references"] = [pick]
    with pytest.raises(SpecError) as err:
        load_spec(data)
    assert any(p.path == path and fragment in p.message for p in err.value.problems), err.value.problems
