"""`type: uuid` and `type: pattern` attributes: format, uniqueness, uniformity, determinism per entity,
descriptions, sync-sources tests, and every validation error with its YAML path."""
from __future__ import annotations

import copy
import re
from collections import Counter

import duckdb
import numpy as np
import pytest

import dbt_plotsim
from dbt_plotsim import SpecError, load_spec
from dbt_plotsim.engine.patterns import drawn, entity_values, permuted
from dbt_plotsim.spec.patterns import parse
from dbt_plotsim.sync import sync_text

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ATTRIBUTES = [
    {"name": "external_id", "type": "uuid"},
    {"name": "account_number", "type": "pattern", "pattern": "ACC-####-??"},
    {"name": "tight", "type": "pattern", "pattern": "##?"},  # 2,600 combinations for 2,500 entities
    {"name": "ref", "type": "pattern", "pattern": r"R\#{n}/*"},
]
# 2,500 entities in two segments (3 blocks of 1,024 and one more), 3 months.
SPEC: dict = {
    "unit": "account",
    "window": {"start": "2024-01-01", "end": "2024-03-31", "grain": "month"},
    "seed": 11,
    "metrics": [{"name": "engagement", "type": "score"}],
    "segments": [{"name": "smb", "count": 1500, "archetype": "flat"},
                 {"name": "big", "count": 1000, "archetype": "growth"}],
    "attributes": ATTRIBUTES,
}


def with_(**changes) -> dict:
    data = copy.deepcopy(SPEC)
    data.update(copy.deepcopy(changes))
    return data


@pytest.fixture(scope="module")
def dim():
    return dbt_plotsim.generate(SPEC)["dim_account"]


def four_sigma(n: int, p: float) -> float:
    """4 standard deviations of a binomial count."""
    return 4 * np.sqrt(n * p * (1 - p))


# ------------------------------------------------------------------------------------------------- uuid

def test_uuids_are_version_4_and_unique(dim):
    values = dim["external_id"].to_pylist()
    assert all(UUID.match(v) for v in values)
    assert len(set(values)) == len(values) == 2500


def test_uuid_hex_digits_are_uniform(dim):
    # 30 free nibbles per UUID (the version nibble is fixed, the variant one has 2 free bits)
    digits = "".join(v.replace("-", "")[:12] + v.replace("-", "")[13:16] + v.replace("-", "")[17:]
                     for v in dim["external_id"].to_pylist())
    counts = Counter(digits)
    n = len(digits)
    assert len(counts) == 16
    for digit, count in counts.items():  # each within 4 sigma of the binomial (n = 75,000, p = 1/16)
        assert abs(count - n / 16) < four_sigma(n, 1 / 16), (digit, count)


def test_duckdb_reads_the_uuids_and_the_descriptions():
    con = duckdb.connect()
    dbt_plotsim.write_duckdb(SPEC, con)
    assert con.execute("select count(*) from dim_account where try_cast(external_id as uuid) is null").fetchone() == (0,)
    comment = dict(con.execute("select column_name, comment from duckdb_columns() where table_name = 'dim_account'")
                   .fetchall())
    assert comment["external_id"].startswith("UUID v4 text")
    assert "pattern 'ACC-####-??'" in comment["account_number"] and "unique" in comment["account_number"]


# ---------------------------------------------------------------------------------------------- pattern

def test_pattern_values_follow_the_template(dim):
    assert all(re.fullmatch(r"ACC-\d{4}-[A-Z]{2}", v) for v in dim["account_number"].to_pylist())
    assert all(re.fullmatch(r"\d\d[A-Z]", v) for v in dim["tight"].to_pylist())
    ids = dim["account_id"].to_pylist()
    refs = dim["ref"].to_pylist()
    assert all(re.fullmatch(rf"R#{i:04d}/[0-9A-Z]", r) for i, r in zip(ids, refs))  # {n} padded like account_code


def test_patterns_are_unique_by_construction(dim):
    # "##?" has 2,600 combinations for 2,500 entities: independent draws would give about 890 repeats
    for column in ("account_number", "tight", "ref"):
        assert dim[column].unique().__len__() == 2500, column


def test_pattern_characters_are_uniform(dim):
    values = dim["account_number"].to_pylist()
    n = len(values)
    for position, alphabet in ((4, "0123456789"), (7, "0123456789"), (9, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")):
        counts = Counter(v[position] for v in values)
        p = 1 / len(alphabet)
        for char in alphabet:  # within 4 sigma of the binomial
            assert abs(counts[char] - n * p) < four_sigma(n, p), (position, char, counts[char])


def test_permutation_is_a_bijection():
    for size in (1, 2, 3, 10, 26, 1000, 6760, 2 ** 20 + 7):
        out = permuted(5, ("t",), np.arange(size), size)
        assert np.array_equal(np.sort(out), np.arange(size, dtype=np.uint64)), size


def test_drawn_indices_are_uniform_and_in_range():
    n, size = 60_000, 3
    out = drawn(5, ("t",), (np.arange(n),), size)
    assert out.max() < size
    counts = np.bincount(out.astype(np.int64), minlength=size)
    assert np.all(np.abs(counts - n / size) < four_sigma(n, 1 / size)), counts


def test_long_patterns_beyond_64_bits():
    tokens = parse("#" * 25 + "?")[0]  # 10^25 x 26 combinations: two groups
    values = entity_values(1, ("a",), tokens, np.arange(1, 5001), 4).to_pylist()
    assert all(re.fullmatch(r"\d{25}[A-Z]", v) for v in values) and len(set(values)) == 5000


def test_escapes_and_unicode_literals():
    values = entity_values(1, ("a",), parse(r"\{é\\#\?")[0], np.arange(1, 101), 3).to_pylist()
    assert all(re.fullmatch(r"\{é\\\d\?", v) for v in values)


# ------------------------------------------------------------------------------------------ determinism

def test_same_values_whatever_the_chunk_size(dim):
    small = dbt_plotsim.generate(SPEC, chunk_entities=1024)["dim_account"]
    large = dbt_plotsim.generate(SPEC, chunk_entities=100_000, workers=2)["dim_account"]
    assert small.equals(large) and small.equals(dim)


def test_values_depend_only_on_the_entity(dim):
    # more entities in the last segment: every existing entity keeps its id, so its values
    more = dbt_plotsim.generate(with_(segments=[SPEC["segments"][0], {**SPEC["segments"][1], "count": 1100}]))
    grown = more["dim_account"].slice(0, 2500)
    for column in ("external_id", "account_number", "tight"):
        assert grown[column].equals(dim[column]), column
    # another attribute, or removing one, changes no other column
    alone = dbt_plotsim.generate(with_(attributes=[ATTRIBUTES[1]]))["dim_account"]
    assert alone["account_number"].equals(dim["account_number"])
    plain = dbt_plotsim.generate(with_(attributes=[]))["dim_account"]
    assert dim.select(plain.column_names).equals(plain)
    reseeded = dbt_plotsim.generate(with_(seed=12))["dim_account"]
    assert not set(reseeded["external_id"].to_pylist()) & set(dim["external_id"].to_pylist())


# ---------------------------------------------------------------------------------------- sync-sources

SOURCES = """\
version: 2
sources:
  - name: saas
    config:
      meta:
        synthetic:
          unit: company
          window: {start: 2024-01-01, end: 2024-03-31, grain: month}
          metrics: [{name: engagement, type: score}]
          segments: [{name: growers, count: 10, archetype: growth}]
          attributes:
            - {name: external_id, type: uuid}
            - {name: account_number, type: pattern, pattern: "ACC-####"}
"""


def test_sync_registers_unique_and_not_null(tmp_path):
    import yaml

    text, _ = sync_text(SOURCES, "sources.yml", tmp_path)
    tables = {t["name"]: {c["name"]: c for c in t["columns"]} for t in yaml.safe_load(text)["sources"][0]["tables"]}
    for column in ("external_id", "account_number"):
        entry = tables["dim_company"][column]
        assert {next(iter(t)) for t in entry["data_tests"]} == {"unique", "not_null"}, column
    assert tables["dim_company"]["external_id"]["description"].startswith("UUID v4 text")


# --------------------------------------------------------------------------------------------- errors

def pattern(value=None, **keys) -> dict:
    return {"name": "code", "type": "pattern", **({} if value is None else {"pattern": value}), **keys}


ERRORS = [
    pytest.param(pattern(), "attributes.code.pattern", ["is required for type pattern"], id="missing"),
    pytest.param(pattern(""), "attributes.code.pattern", ["is empty", "'ACC-####-??'"], id="empty"),
    pytest.param(pattern("ACC-"), "attributes.code.pattern", ["'ACC-' has no placeholder", "`#` a digit"],
                 id="no-placeholder"),
    pytest.param(pattern(r"\#\?"), "attributes.code.pattern", ["has no placeholder"], id="only-escapes"),
    pytest.param(pattern("ACC-{id}"), "attributes.code.pattern",
                 ["unknown placeholder '{id}'", "the only one is {n}"], id="unknown-placeholder"),
    pytest.param(pattern("ACC-{n"), "attributes.code.pattern", ["unknown placeholder '{n'"], id="unclosed-brace"),
    pytest.param(pattern("ACC-#\\"), "attributes.code.pattern", ["ends with `\\`"], id="trailing-backslash"),
    pytest.param(pattern("A\tB#"), "attributes.code.pattern", ["control characters"], id="control-character"),
    pytest.param(pattern("#" * 201), "attributes.code.pattern", ["at most 200"], id="too-long"),
    pytest.param(pattern("##"), "attributes.code.pattern",
                 ["makes 100 different values for 2,500 entities", "{n}"], id="too-few-combinations"),
    pytest.param({"name": "code", "type": "uuid", "pattern": "#"}, "attributes.code.pattern",
                 ["applies to type pattern, not uuid"], id="pattern-on-uuid"),
    pytest.param(pattern("#", range=[1, 2]), "attributes.code.range", ["applies to type number, not pattern"],
                 id="range-on-pattern"),
    pytest.param({"name": "code", "type": "uid"}, "attributes.code.type", ["got 'uid'", "did you mean 'uuid'?"],
                 id="misspelt-type"),
]


@pytest.mark.parametrize("attribute, path, fragments", ERRORS)
def test_bad_patterns_report_path_and_message(attribute, path, fragments):
    with pytest.raises(SpecError) as caught:
        load_spec(with_(attributes=[attribute]))
    found = [p for p in caught.value.problems if p.path == path]
    assert found, f"no problem at {path}; got {[(p.path, p.message) for p in caught.value.problems]}"
    for fragment in fragments:
        assert any(fragment in p.message for p in found), f"{fragment!r} not in {[p.message for p in found]}"


def test_numbered_pattern_needs_no_combinations_and_scale_is_checked():
    load_spec(with_(attributes=[pattern("{n}-#")]))
    load_spec(with_(attributes=[pattern("####")]))  # 10,000 combinations for 2,500 entities
    with pytest.raises(SpecError) as caught:
        load_spec(with_(attributes=[pattern("####")]), scale=5)
    assert [p.path for p in caught.value.problems] == ["attributes.code.pattern"]
