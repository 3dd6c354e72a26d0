"""Entity attributes (dim_<unit> columns) and reference lookup tables dim_<name> (components).

Every attribute draws from its own stream `stream(seed, "attribute", name, segment, block)`, one full
block of ENTITY_BLOCK entities at a time, so its values depend on nothing but the entity and the spec,
and adding an attribute changes no other column. Realistic text (names, companies, cities) comes from
pools that Faker fills once per (kind, locale, seed); entities pick from a pool by drawn indices, so
generation never calls Faker per entity.
"""
from __future__ import annotations

import re
import unicodedata
import weakref
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import ndtr, ndtri

from ..errors import PlotsimError
from .block import BlockValues, block_base
from .clock import TableClock
from .components import Component
from . import identifiers
from .rng import ENTITY_BLOCK, name_key, stream
from ..spec.schema import dim_of

POOL_SIZE = 4000  # entries per Faker pool; names pair a first and a last name drawn separately
FAMILY_NAME_FIRST = ("ja_JP", "zh_CN", "zh_TW", "ko_KR", "hu_HU", "vi_VN")
EMAIL_DIGITS = {"company": 0.1, "other": 0.5}  # share of addresses with a number after the name
COMPANY_NOISE = {"and", "the", "of", "inc", "llc", "ltd", "plc", "group", "co", "corp", "corporation", "company",
                 "sons", "gmbh", "ag", "sa", "srl", "bv", "kg", "limited", "partners", "associates"}
ARROW_TYPES = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(), "str": pa.string()}


def _field(name: str, kind: pa.DataType, description: str, nullable: bool = True, pii: str = "") -> pa.Field:
    metadata = {"description": description}
    if pii:
        metadata["pii"] = pii
    return pa.field(name, kind, nullable=nullable, metadata=metadata)


def _rules():
    """The spec's plain helpers and defaults (category values, column types, locale)."""
    from ..spec import attributes

    return attributes


def _block_index(block: BlockValues) -> int:
    return int(block.ids[0] - block.segment.first_id) // ENTITY_BLOCK if len(block.ids) else 0


def _rng(seed: int, name: str, block: BlockValues) -> np.random.Generator:
    return stream(seed, "attribute", name, block.segment.name, _block_index(block))


# ------------------------------------------------------------------------------------------ reference

class ReferenceComponent(Component):
    """dim_<name> per `reference` entry: `<name>_id` 1..k in declared order, then the declared columns."""

    def active(self, plan) -> bool:
        return bool(plan.spec.reference)

    def schemas(self, plan) -> dict[str, pa.Schema]:
        column_type = _rules().column_type
        unit = plan.spec.unit
        out = {}
        for table in plan.spec.reference:
            fields = [_field(table.key, pa.int64(), f"Primary key of the {table.name}: 1..{len(table.rows)} in "
                             "declared order.", nullable=False)]
            for column in table.column_names:
                values = [row.get(column) for row in table.rows]
                text = table.columns.get(column) or (
                    f"Name of the {table.name}, unique." if column == table.name else f"Declared {column} of the {table.name}.")
                fields.append(_field(column, ARROW_TYPES[column_type(values)], text, nullable=None in values))
            about = table.description or (f"Lookup table declared in the spec: one row per {table.name} "
                                          f"({len(table.rows)} rows); dim_{unit} points here by {table.key}.")
            out[f"dim_{table.name}"] = pa.schema(fields, metadata={"description": about})
        return out

    def static_tables(self, plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Table]:
        out = {}
        for table in plan.spec.reference:
            name = f"dim_{table.name}"
            columns = {table.key: np.arange(1, len(table.rows) + 1, dtype=np.int64)}
            for column in table.column_names:
                columns[column] = [row.get(column) for row in table.rows]
            out[name] = pa.Table.from_pydict(columns, schema=schemas[name])
        return out

    def row_estimate(self, plan, cells):
        return {f"dim_{table.name}": len(table.rows) for table in plan.spec.reference}

    def tests(self, plan, ref):
        out = {}
        for table in plan.spec.reference:
            columns = {table.key: [("unique", None), ("not_null", None)]}
            if table.name in table.column_names:
                columns[table.name] = [("unique", None), ("not_null", None)]
            out[f"dim_{table.name}"] = columns
        return out


# ----------------------------------------------------------------------------------------- attributes

class AttributesComponent(Component):
    """Columns of dim_<unit> (or of a declared 1:1 dimension, `tables.dims`): categories (or foreign keys to
    a reference table), numbers, dates, Faker text."""

    def active(self, plan) -> bool:
        return bool(plan.spec.attributes)

    def clock(self, plan) -> dict:
        key = f"{plan.spec.unit}_id"  # a declared 1:1 dimension has a row once its entity has arrived
        return {table.name: TableClock(parent=(f"dim_{plan.spec.unit}", key)) for table in plan.spec.tables.dims}

    def _placed(self, plan) -> dict[str, list]:
        """table -> its attributes, dim_<unit> first."""
        where = dim_of(plan.spec)
        out: dict[str, list] = {f"dim_{plan.spec.unit}": []}
        out.update({t.name: [] for t in plan.spec.tables.dims})
        for attr in plan.spec.attributes:
            out[where.get(attr.name, f"dim_{plan.spec.unit}")].append(attr)
        return out

    def unit_fields(self, plan) -> list[pa.Field]:
        return [_attribute_field(plan, attr) for attr in self._placed(plan)[f"dim_{plan.spec.unit}"]]

    def schemas(self, plan) -> dict[str, pa.Schema]:
        unit = plan.spec.unit
        out = {}
        for table in plan.spec.tables.dims:
            fields = [_field(f"{unit}_id", pa.int64(), f"Primary key, and foreign key to dim_{unit} (one row each).",
                             nullable=False)]
            fields += [_attribute_field(plan, attr) for attr in self._placed(plan)[table.name]]
            out[table.name] = pa.schema(fields, metadata={"description": table.description or (
                f"One row per {unit}: {', '.join(table.attributes)}, kept apart from dim_{unit}.")})
        return out

    def unit_columns(self, plan, blocks: list[BlockValues]) -> dict[str, pa.Array]:
        return _attribute_columns(plan, self._placed(plan)[f"dim_{plan.spec.unit}"], blocks)

    def chunk_tables(self, plan, blocks, schemas, counters) -> dict[str, pa.Table]:
        placed = self._placed(plan)
        ids = pa.array(np.concatenate([b.ids for b in blocks]))
        return {table.name: pa.Table.from_pydict({f"{plan.spec.unit}_id": ids,
                                                  **_attribute_columns(plan, placed[table.name], blocks)},
                                                 schema=schemas[table.name])
                for table in plan.spec.tables.dims}

    def row_estimate(self, plan, cells):
        return {table.name: plan.entity_count for table in plan.spec.tables.dims}

    def tests(self, plan, ref):
        category_values = _rules().category_values
        spec = plan.spec
        key, dim = f"{spec.unit}_id", f"dim_{spec.unit}"
        tables = {t.name: t for t in spec.reference}
        out = {}
        for table, attributes in self._placed(plan).items():
            columns = {} if table == dim else {key: [("unique", None), ("not_null", None),
                                                     ("relationships", {"to": ref(dim), "field": key})]}
            for attr in attributes:
                tests = [("not_null", None)]
                if attr.type == "category" and attr.references:
                    target = tables[attr.references]
                    tests.append(("relationships", {"to": ref(f"dim_{target.name}"), "field": target.key}))
                elif attr.type == "category":
                    tests.append(("accepted_values", {"values": category_values(attr, tables)}))
                elif attr.type in identifiers.KINDS:
                    tests.append(("unique", None))
                columns[attr.column] = tests
            if columns:
                out[table] = columns
        return out


def _attribute_field(plan, attr) -> pa.Field:
    text = " ".join(p for p in (_lead(attr.description), _describe(plan, attr)) if p)
    if attr.pii:
        text += f" {attr.pii if attr.pii.upper().startswith('PII') else 'PII: ' + attr.pii}"
        text = text if text.endswith(".") else text + "."
    return _field(attr.column, _arrow_type(attr), text, nullable=False, pii=attr.pii)


def _attribute_columns(plan, attributes, blocks: list[BlockValues]) -> dict[str, pa.Array]:
    out = {}
    for attr in attributes:
        if attr.type in _rules().FAKER_TYPES:  # indices per block, strings once per chunk
            out[attr.column] = _faker_values(plan, attr, blocks)
        elif attr.type in identifiers.KINDS:  # hashed from the entity ids
            out[attr.column] = identifiers.values(plan, attr, np.concatenate([b.ids for b in blocks]))
        else:
            out[attr.column] = pa.array(np.concatenate([_values(plan, attr, b) for b in blocks]), type=_arrow_type(attr))
    return out


def _arrow_type(attr) -> pa.DataType:
    if attr.type == "category":
        return pa.int64() if attr.references else pa.string()
    if attr.type == "number":
        return pa.int64() if attr.integer else pa.float64()
    if attr.type == "date":
        return pa.date32()
    return pa.string()


def _lead(text: str | None) -> str:
    return "" if not text else text.rstrip(".") + "."


def _percent(weights: dict[str, float]) -> str:
    total = sum(weights.values())
    return ", ".join(f"{k} ({w / total:.0%})" for k, w in weights.items())


def _describe(plan, attr) -> str:
    spec = plan.spec
    unit = spec.unit
    if attr.type == "category":
        values = _rules().category_values(attr, {t.name: t for t in spec.reference})
        weights = attr.weights or {v: 1.0 for v in values}
        head = f"Foreign key to dim_{attr.references}: " if attr.references else "One of "
        text = head + _percent(weights)
        if attr.by_segment:
            text += "; in segment " + "; in segment ".join(f"{s}: {_percent(w)}" for s, w in attr.by_segment.items())
        return text + "."
    if attr.type == "number":
        low, high = attr.range
        family = attr.family.capitalize()
        text = f"{family} within [{low:g}, {high:g}]" + (f", median {attr.median:g}" if attr.median is not None else "")
        text += ", whole numbers" if attr.integer else ""
        if attr.follows:
            strength = attr.strength if attr.strength is not None else _default_strength()
            what = "mean trajectory position" if attr.follows == "trajectory" else f"mean {attr.follows}"
            text += (f"; {'higher' if strength >= 0 else 'lower'} for entities with a higher {what} "
                     f"(latent correlation {strength:g})")
        return text + "."
    if attr.type == "date":
        low, high = attr.days_before_arrival
        return (f"{low} to {high} days before the first day of the {unit}'s first {spec.window.grain} "
                f"(its first_date_key, or the window's first {spec.window.grain}).")
    if attr.type in identifiers.KINDS:
        return identifiers.describe(plan, attr)
    if attr.type == "email":
        person = {a.name: a for a in spec.attributes}.get(attr.name_from) or attr
        locale = person.locale or _default_locale()
        domain = (f"at the {unit}'s {attr.domain_from} domain" if attr.domain_from else
                  f"at {attr.domain}" if attr.domain else "at common free-mail domains")
        person = f"of {attr.name_from}" if attr.name_from else "of a synthetic person"
        return f"Email address {person} {domain}, built from Faker ({locale}) names."
    kind = "phone number" if attr.type == "phone" else attr.type.replace("_", " ")
    return f"Realistic {kind} from Faker ({attr.locale or _default_locale()}), synthetic."


def _default_locale() -> str:
    return _rules().DEFAULT_LOCALE


def _default_strength() -> float:
    return _rules().DEFAULT_STRENGTH


# -------------------------------------------------------------------------------------- value drawing

def _values(plan, attr, block: BlockValues) -> np.ndarray:
    """One block's values of a category, number or date attribute."""
    return {"category": _category, "number": _number, "date": _date}[attr.type](plan, attr, block)


def _date(plan, attr, block: BlockValues) -> np.ndarray:
    """`days_before_arrival` days (uniform whole days) before the first day of the entity's first period."""
    low, high = attr.days_before_arrival
    days = _rng(plan.spec.seed, attr.name, block).integers(low, high + 1, ENTITY_BLOCK)[: len(block.ids)]
    return plan.starts[block.arrival] - days.astype("timedelta64[D]")


def _category(plan, attr, block: BlockValues) -> np.ndarray:
    """Values by inverse CDF of the segment's weights (`by_segment` replaces the weights for a segment);
    a referencing category gives the reference row's id."""
    rules = _rules()
    tables = {t.name: t for t in plan.spec.reference}
    values = rules.category_values(attr, tables)
    weights = (attr.by_segment or {}).get(block.segment.name) or attr.weights or {v: 1.0 for v in values}
    w = np.array([weights.get(v, 0.0) for v in values], dtype=np.float64)
    cumulative = np.cumsum(w) / w.sum()
    u = _rng(plan.spec.seed, attr.name, block).random(ENTITY_BLOCK)[: len(block.ids)]
    codes = np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)
    if attr.references:
        labels = rules.reference_labels(attr, tables)
        row_ids = np.array([labels.index(v) + 1 for v in values], dtype=np.int64)
        return row_ids[codes]
    return np.asarray(values, dtype=object)[codes]


def _number(plan, attr, block: BlockValues) -> np.ndarray:
    """A standard normal, mixed with the entity's followed score when `follows` is set, mapped through
    the inverse CDF of the family truncated to the range (so nothing piles up on a bound)."""
    n = len(block.ids)
    z = _rng(plan.spec.seed, attr.name, block).standard_normal(ENTITY_BLOCK)[:n]
    if attr.follows:
        strength = attr.strength if attr.strength is not None else _default_strength()
        z = strength * _follow_scores(plan, attr.follows, block) + np.sqrt(1.0 - strength**2) * z
    return number_quantile(attr, ndtr(z))


def number_quantile(attr, p: np.ndarray) -> np.ndarray:
    """Values of a number (attribute or payload field: range, family, median, integer) at probabilities p."""
    low, high = attr.range
    if attr.family == "uniform" and attr.integer:  # every whole number equally likely, the ends too
        first, last = np.ceil(low), np.floor(high)
        return np.minimum(first + np.floor(p * (last - first + 1)), last).astype(np.int64)
    if attr.family == "uniform":
        x = low + p * (high - low)
    else:
        log = attr.family == "lognormal"
        a, b = (np.log(low), np.log(high)) if log else (low, high)
        centre = (np.log(attr.median) if log else attr.median) if attr.median is not None else (a + b) / 2
        sd = (b - a) / 6
        fa, fb = ndtr((a - centre) / sd), ndtr((b - centre) / sd)
        x = centre + sd * ndtri(fa + p * (fb - fa))
        x = np.exp(x) if log else x
    x = np.clip(x, low, high)
    if attr.integer:
        return np.clip(np.rint(x), np.ceil(low), np.floor(high)).astype(np.int64)
    return x


def _entity_means(plan, follows: str, block: BlockValues) -> np.ndarray:
    series = block.positions if follows == "trajectory" else block.values[plan.metric_names.index(follows)]
    active = block.active
    return (series * active).sum(axis=1) / np.maximum(active.sum(axis=1), 1)


_CALIBRATION: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}


def _follow_scores(plan, follows: str, block: BlockValues) -> np.ndarray:
    """Standard-normal scores of the entities' mean trajectory position (or metric), through the pooled
    distribution of that mean. The distribution is estimated once per plan on the first block of every
    segment (weighted by segment size), so it is the same whatever the chunking."""
    key = (id(plan), follows)
    if key not in _CALIBRATION:
        samples, weights = [], []
        for seg in plan.segments:
            if seg.count > 0:
                means = _entity_means(plan, follows, block_base(plan, seg, 0))
                samples.append(means)
                weights.append(np.full(len(means), seg.count / len(means)))
        xs, inverse = np.unique(np.concatenate(samples), return_inverse=True)
        w = np.bincount(inverse, weights=np.concatenate(weights))
        _CALIBRATION[key] = xs, (np.cumsum(w) - w / 2) / w.sum()
        weakref.finalize(plan, _CALIBRATION.pop, key, None)
    xs, cdf = _CALIBRATION[key]
    return ndtri(np.interp(_entity_means(plan, follows, block), xs, cdf))


# --------------------------------------------------------------------------------------------- Faker

def _faker(locale: str, seed: int, kind: str):
    try:
        from faker import Faker
    except ImportError:
        raise PlotsimError(f"attributes of type {kind} need the Faker package: pip install Faker") from None
    fake = Faker(locale, use_weighting=False)
    fake.seed_instance(name_key(f"{seed}/{kind}/{locale}"))
    return fake


@lru_cache(maxsize=64)
def pool(kind: str, locale: str, seed: int) -> pa.Array:
    """POOL_SIZE strings of one kind from a Faker seeded by (seed, kind, locale): the same for the same
    Faker version. Kinds: first_name, last_name, company_name, city, country, phone, free_email_domain."""
    fake = _faker(locale, seed, kind)
    method = {"company_name": fake.company, "phone": fake.phone_number}.get(kind) or getattr(fake, kind)
    return pa.array([method() for _ in range(POOL_SIZE)], type=pa.string())


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@lru_cache(maxsize=64)
def slug_pool(kind: str, locale: str, seed: int) -> pa.Array:
    """ASCII forms of a pool for email addresses: names without accents or spaces, company names as a
    domain. Entries with nothing ASCII in them (other scripts) take the en_US entry at the same index."""
    out = []
    for i, text in enumerate(pool(kind, locale, seed).to_pylist()):
        words = re.findall(r"[a-z0-9]+", _ascii(text))
        if kind == "company_name":
            words = [w for w in words if w not in COMPANY_NOISE][:2]
            slug = "".join(words) + ".com" if words else ""
        else:
            slug = "".join(words)
        if not slug:
            slug = slug_pool(kind, "en_US", seed)[i].as_py() if locale != "en_US" else "user"
        out.append(slug)
    return pa.array(out, type=pa.string())


def _indices(seed: int, attr, blocks: list[BlockValues], rows: int) -> np.ndarray:
    """(rows, entities) pool indices of an attribute, drawn per block: for a person, first and last name."""
    return np.concatenate([_rng(seed, attr.name, b).integers(0, POOL_SIZE, (rows, ENTITY_BLOCK))[:, : len(b.ids)]
                           for b in blocks], axis=1)


def _faker_values(plan, attr, blocks: list[BlockValues]) -> pa.Array:
    seed = plan.spec.seed
    locale = attr.locale or _default_locale()
    if attr.type == "email":
        return _email(plan, attr, blocks)
    if attr.type == "person_name":
        first_i, last_i = _indices(seed, attr, blocks, 2)
        first, last = pool("first_name", locale, seed).take(first_i), pool("last_name", locale, seed).take(last_i)
        parts = (last, first) if locale in FAMILY_NAME_FIRST else (first, last)
        return pc.binary_join_element_wise(*parts, " ")
    return pool(attr.type, locale, seed).take(_indices(seed, attr, blocks, 1)[0])


def _email(plan, attr, blocks: list[BlockValues]) -> pa.Array:
    """<local>[number]@<domain>; local in four styles (first.last, firstlast, flast, first_last) from the
    ASCII forms of a person's names: its own, or those of the `name_from` attribute for the same entity."""
    spec = plan.spec
    seed = spec.seed
    by_name = {a.name: a for a in spec.attributes}
    own = _indices(seed, attr, blocks, 6)  # first, last, style, numbered or not, number, domain
    person = by_name[attr.name_from] if attr.name_from else attr
    locale = person.locale or _default_locale()
    first_i, last_i = _indices(seed, person, blocks, 2) if attr.name_from else own[:2]
    first = slug_pool("first_name", locale, seed).take(first_i)
    last = slug_pool("last_name", locale, seed).take(last_i)
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    local = pc.choose(pa.array(own[2] % 4), pc.binary_join_element_wise(first, last, "."),
                      pc.binary_join_element_wise(first, last, ""), pc.binary_join_element_wise(initial, last, ""),
                      pc.binary_join_element_wise(first, last, "_"))
    if attr.domain_from:
        company = by_name[attr.domain_from]
        domains = slug_pool("company_name", company.locale or _default_locale(), seed).take(
            _indices(seed, company, blocks, 1)[0])
        share = EMAIL_DIGITS["company"]
    elif attr.domain:
        domains = pa.scalar(attr.domain, pa.string())
        share = EMAIL_DIGITS["other"]
    else:
        domains = pool("free_email_domain", locale, seed).take(own[5])
        share = EMAIL_DIGITS["other"]
    digits = pc.cast(pa.array(own[4] % 999 + 1), pa.string())
    suffix = pc.if_else(pa.array(own[3] < share * POOL_SIZE), digits, pa.scalar("", pa.string()))
    return pc.binary_join_element_wise(local, suffix, "@", domains, "")
