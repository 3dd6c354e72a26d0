"""Entity attributes (dim_<unit> columns) and reference lookup tables (dim_<name>).

One flat `Attribute` model for every type, so that list items parse on their own (salvage) and a
mistake is reported under `attributes.<name>.<key>`; which keys belong to which type is checked in
`check_attributes`, like every other cross-key rule.
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections import Counter
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from ..errors import Problem
from .base import Identifier, StrictModel, range_problem

FAKER_TYPES = ("first_name", "last_name", "person_name", "email", "phone", "company_name", "city", "country")
AttributeType = Literal["category", "number", "date", "first_name", "last_name", "person_name", "email", "phone",
                        "company_name", "city", "country", "uuid", "pattern"]
NumberDistribution = Literal["uniform", "normal", "lognormal"]
DEFAULT_LOCALE = "en_US"
DEFAULT_STRENGTH = 0.7

# Keys that only some types take (the rest, name/type/description/pii_note, every type takes).
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "weights": ("category",), "by_segment": ("category",), "references": ("category",),
    "distribution": ("number",), "range": ("number",), "median": ("number",), "integer": ("number",),
    "follows": ("number",), "strength": ("number",),
    "days_before_arrival": ("date",),
    "locale": FAKER_TYPES,
    "name_from": ("email",), "domain_from": ("email",), "domain": ("email",),
    "pattern": ("pattern",),
}
# Kinds that look like personal data: without a `pii_note` they get this one ("" turns it off).
DEFAULT_PII = {
    "first_name": "realistic first name (synthetic)",
    "last_name": "realistic last name (synthetic)",
    "person_name": "realistic person name (synthetic)",
    "email": "realistic email address (synthetic, may match a real one)",
    "phone": "realistic phone number (synthetic, may match a real one)",
}
DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def _keys_as_text(value):
    """YAML reads `1: 0.5` with an int key; a category value is text."""
    if isinstance(value, dict):
        return {str(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else k: v for k, v in value.items()}
    return value


def _dates_as_text(value):
    """A date in a reference row is kept as its ISO text (a column holds int, float, text or bool)."""
    if isinstance(value, dict):
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in value.items()}
    return value


Weights = Annotated[dict[str, float], BeforeValidator(_keys_as_text)]
Cell = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]
Row = Annotated[dict[Identifier, Cell], BeforeValidator(_dates_as_text)]


class Attribute(StrictModel):
    """One column of dim_<unit>; `type` says which of the optional keys apply."""

    name: Identifier
    type: AttributeType
    description: str | None = None
    pii_note: str | None = Field(None, description="appended to the column description as 'PII: <note>'")
    # category
    weights: Weights | None = None
    by_segment: dict[Identifier, Weights] | None = None
    references: Identifier | None = None
    # number
    distribution: NumberDistribution | None = None
    range: tuple[float, float] | None = None
    median: float | None = None
    integer: bool | None = None
    follows: Identifier | None = None
    strength: float | None = Field(None, ge=-1.0, le=1.0)
    # date
    days_before_arrival: tuple[int, int] | None = None
    # Faker kinds
    locale: str | None = None
    name_from: Identifier | None = None
    domain_from: Identifier | None = None
    domain: str | None = None
    # pattern
    pattern: str | None = Field(None, description="template: # digit, ? letter, * either, {n} entity number")

    @property
    def column(self) -> str:
        """Its column in dim_<unit>: `<name>_id` for a category that references a lookup table."""
        return f"{self.name}_id" if self.references else self.name

    @property
    def family(self) -> str:
        return self.distribution or "normal"

    @property
    def pii(self) -> str:
        return DEFAULT_PII.get(self.type, "") if self.pii_note is None else self.pii_note


class ReferenceTable(StrictModel):
    """A small lookup table dim_<name>: `<name>_id` (1..k in declared order) plus the rows' columns."""

    name: Identifier
    rows: tuple[Row, ...] = Field(min_length=1)
    description: str | None = None
    columns: dict[Identifier, str] = Field(default_factory=dict, description="column descriptions")

    @property
    def key(self) -> str:
        return f"{self.name}_id"

    @property
    def column_names(self) -> list[str]:
        return list(self.rows[0]) if self.rows else []


def unit_columns_taken(spec) -> list[str]:
    """dim_<unit> columns the engine generates (keep in step with engine/tables.py)."""
    unit = spec.unit
    return [f"{unit}_id", f"{unit}_code", "segment", "archetype", "start_position", "end_position",
            "first_date_key", "ended_date_key"]


def column_type(values: list) -> str | None:
    """'bool', 'int', 'float' or 'str' for a column's values (nulls skipped); None when they mix."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds or kinds == {str}:
        return "str"
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "int"
    if kinds <= {int, float}:
        return "float"
    return None


def reference_labels(attr: Attribute, tables: dict[str, ReferenceTable]) -> list[str]:
    """The labels of the reference table an attribute points at (its `<name>` column), in row order."""
    table = tables.get(attr.references or "")
    if table is None or table.name not in table.column_names:
        return []
    return [str(row.get(table.name)) for row in table.rows]


def label_weights(weights: dict[str, float] | None, table: ReferenceTable) -> list[float]:
    """Weight of each row of a reference table: by its label (0 when unlisted), or 1 each without weights."""
    if weights is None:
        return [1.0] * len(table.rows)
    return [float(weights.get(str(row.get(table.name)), 0.0)) for row in table.rows]


def undeclared_table(name: str, tables: dict[str, ReferenceTable]) -> str:
    known = sorted(tables)
    hint = _suggest(name, known) if known else "no reference tables are declared"
    return f"FK to an undeclared table '{name}': declare it under `reference`; {hint}"


def check_label_weights(path: str, weights: dict[str, float], table: ReferenceTable) -> list[Problem]:
    """Weights keyed by the labels (the `<name>` column) of a reference table's rows."""
    if table.name not in table.column_names:
        return [Problem(path, f"reference.{table.name} has no column '{table.name}' to name its rows by; "
                              f"its columns: {table.column_names}")]
    labels = [str(row.get(table.name)) for row in table.rows]
    return _check_weights(path, weights, labels, "the rows are")


def category_values(attr: Attribute, tables: dict[str, ReferenceTable]) -> list[str]:
    """The values an attribute can take, in order: its weights' keys, or its reference table's labels."""
    return list(attr.weights) if attr.weights is not None else reference_labels(attr, tables)


# ------------------------------------------------------------------------------------------------ checks

def check_attributes(spec) -> list[Problem]:
    problems = _check_reference(spec)
    tables = {t.name: t for t in spec.reference}
    by_name = {a.name: a for a in spec.attributes}
    taken = unit_columns_taken(spec)
    for name, count in Counter(a.name for a in spec.attributes).items():
        if count > 1:
            problems.append(Problem(f"attributes.{name}", "attribute name used more than once; names must be unique"))
    for attr in spec.attributes:
        path = f"attributes.{attr.name}"
        if attr.column in taken:
            problems.append(Problem(path, f"column '{attr.column}' is taken by a generated column of dim_{spec.unit} "
                                    f"({', '.join(taken)}); give the attribute another name"))
        others = sorted(b.name for b in spec.attributes if b.column == attr.column and b.name != attr.name)
        if others and attr.column not in taken:
            problems.append(Problem(path, f"its column '{attr.column}' is also the column of attribute {others}"
                                    " (a category with `references` makes <name>_id); give one of them another name"))
        for key, types in TYPE_KEYS.items():
            if getattr(attr, key) is not None and attr.type not in types:
                allowed = types[0] if len(types) == 1 else "one of " + ", ".join(types)
                problems.append(Problem(f"{path}.{key}", f"applies to type {allowed}, not {attr.type}"))
        check = {"category": _check_category, "number": _check_number, "date": _check_date, "uuid": _check_nothing,
                 "pattern": _check_pattern}.get(attr.type, _check_faker)
        problems.extend(check(spec, path, attr, tables, by_name))
    return problems


def _suggest(name: str, known: list[str]) -> str:
    from .checks import suggest  # checks imports this module

    return suggest(name, known)


def _check_weights(path: str, weights: dict[str, float], known: list[str] | None, what: str) -> list[Problem]:
    problems = []
    for value, weight in weights.items():
        if known is not None and value not in known:
            problems.append(Problem(f"{path}.{value}", f"unknown category '{value}'; {what}: {known}"))
        elif not (math.isfinite(weight) and weight >= 0):
            problems.append(Problem(f"{path}.{value}", f"weight {weight} must be a finite number >= 0"))
    if not problems and not sum(weights.values()) > 0:
        problems.append(Problem(path, f"weights add up to 0 ({dict(weights)}); at least one must be above 0"))
    return problems


def _check_category(spec, path, attr, tables, by_name) -> list[Problem]:
    problems: list[Problem] = []
    if attr.weights is None and attr.references is None:
        return [Problem(path, "a category needs `weights` ({value: weight, ...}) or `references` (a reference "
                              "table whose values it takes, equally likely)")]
    if attr.weights is not None:
        problems.extend(_check_weights(f"{path}.weights", attr.weights, None, ""))
    values: list[str] | None = list(attr.weights) if attr.weights is not None else None
    if attr.references is not None:
        table = tables.get(attr.references)
        if table is None:
            problems.append(Problem(f"{path}.references", undeclared_table(attr.references, tables)))
            values = None
        elif attr.references not in table.column_names:
            problems.append(Problem(f"{path}.references", f"reference.{table.name} has no column '{table.name}' "
                                    f"to match categories with; its columns: {table.column_names}"))
            values = None
        else:
            labels = reference_labels(attr, tables)
            for value in attr.weights or {}:
                if value not in labels:
                    problems.append(Problem(f"{path}.weights.{value}", f"'{value}' is not a value of column "
                                            f"'{table.name}' of reference.{table.name}; values: {labels}"))
            values = labels
    segments = [s.name for s in spec.segments]
    for segment, weights in (attr.by_segment or {}).items():
        seg_path = f"{path}.by_segment.{segment}"
        if segments and segment not in segments:
            problems.append(Problem(seg_path, f"unknown segment '{segment}'; {_suggest(segment, segments)}"))
            continue
        problems.extend(_check_weights(seg_path, weights, values, "the categories are"))
    return problems


def _check_number(spec, path, attr, tables, by_name) -> list[Problem]:
    if attr.range is None:
        return [Problem(f"{path}.range", "is required for type number: [min, max]")]
    low, high = attr.range
    problems: list[Problem] = []
    wrong = range_problem(low, high)
    if wrong:
        return [Problem(f"{path}.range", wrong)]
    if attr.family == "lognormal" and low <= 0:
        problems.append(Problem(f"{path}.range", f"[{low}, {high}]: lognormal needs min > 0"))
    if attr.median is not None and not (low < attr.median < high):
        problems.append(Problem(f"{path}.median", f"{attr.median} lies outside range [{low}, {high}]"))
    if attr.median is not None and attr.family == "uniform":
        problems.append(Problem(f"{path}.median", "a uniform distribution has no median to set; drop it or "
                                "use normal or lognormal"))
    if attr.integer and math.floor(high) < math.ceil(low):
        problems.append(Problem(f"{path}.range", f"[{low}, {high}] holds no integer; integer: true needs one"))
    if attr.follows is not None:
        followable = ["trajectory", *(m.name for m in spec.metrics)]
        if attr.follows not in followable:
            problems.append(Problem(f"{path}.follows", f"unknown metric '{attr.follows}'; {_suggest(attr.follows, followable)}"))
    elif attr.strength is not None:
        problems.append(Problem(f"{path}.strength", "applies with `follows` (trajectory or a metric); add it or drop strength"))
    return problems


def _check_date(spec, path, attr, tables, by_name) -> list[Problem]:
    days = attr.days_before_arrival
    if days is None:
        return [Problem(f"{path}.days_before_arrival", "is required for type date: [min, max] days before the "
                        "entity's first period")]
    if days[0] < 0 or days[1] < 0:
        return [Problem(f"{path}.days_before_arrival", f"[{days[0]}, {days[1]}] must be days >= 0 (before arrival)")]
    if days[0] > days[1]:
        return [Problem(f"{path}.days_before_arrival", f"[{days[0]}, {days[1]}] must have min <= max")]
    return []


def _check_nothing(spec, path, attr, tables, by_name) -> list[Problem]:
    return []


def check_pattern(path: str, pattern: str | None, entities: int | None = None) -> list[Problem]:
    """A pattern that parses; for a dim_<unit> column (`entities` given), one with a value per entity."""
    from .patterns import combinations, numbered, parse

    if pattern is None:
        return [Problem(path, "is required for type pattern: a template such as 'ACC-####-??'")]
    tokens, wrong = parse(pattern)
    if wrong:
        return [Problem(path, wrong)]
    if entities is not None and not numbered(tokens) and combinations(tokens) < entities:
        return [Problem(path, f"'{pattern}' makes {combinations(tokens):,} different values for {entities:,} "
                        "entities, so values would repeat; add placeholders (#, ?, *) or {n} (the entity's number)")]
    return []


def _check_pattern(spec, path, attr, tables, by_name) -> list[Problem]:
    return check_pattern(f"{path}.pattern", attr.pattern, spec.entity_count)


def _check_faker(spec, path, attr, tables, by_name) -> list[Problem]:
    problems: list[Problem] = []
    if attr.locale is not None:
        try:
            from faker.config import AVAILABLE_LOCALES
        except ImportError:
            AVAILABLE_LOCALES = [attr.locale]  # reported at generation, with how to install it
        if attr.locale not in AVAILABLE_LOCALES:
            close = difflib.get_close_matches(attr.locale, AVAILABLE_LOCALES, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(Problem(f"{path}.locale", f"unknown locale '{attr.locale}'; {hint}(Faker has "
                                    f"{len(AVAILABLE_LOCALES)} locales, such as en_US, de_DE, fr_FR, ja_JP)"))
    for key, kind in (("name_from", "person_name"), ("domain_from", "company_name")):
        source = getattr(attr, key)
        if source is None:
            continue
        candidates = sorted(a.name for a in by_name.values() if a.type == kind)
        if by_name.get(source) is None or by_name[source].type != kind:
            problems.append(Problem(f"{path}.{key}", f"'{source}' is not a {kind} attribute; "
                                    f"{kind} attributes: {candidates or 'none'}"))
    if attr.domain is not None:
        if attr.domain_from is not None:
            problems.append(Problem(f"{path}.domain", "give `domain` (one fixed domain) or `domain_from` (a "
                                    "company_name attribute), not both"))
        elif not DOMAIN.match(attr.domain):
            problems.append(Problem(f"{path}.domain", f"'{attr.domain}' is not a lower-case domain like example.com"))
    return problems


def _check_reference(spec) -> list[Problem]:
    problems: list[Problem] = []
    for name, count in Counter(t.name for t in spec.reference).items():
        if count > 1:
            problems.append(Problem(f"reference.{name}", "reference table name used more than once; names must be unique"))
    for table in spec.reference:
        path = f"reference.{table.name}"
        if not table.rows:
            continue
        first = list(table.rows[0])
        if not first:
            problems.append(Problem(f"{path}.rows[0]", "a row needs at least one column"))
            continue
        if table.key in first:
            problems.append(Problem(f"{path}.rows", f"column '{table.key}' is the generated primary key (1..k in "
                                    "declared order); drop it from the rows"))
        for i, row in enumerate(table.rows[1:], start=1):
            if set(row) != set(first):
                problems.append(Problem(f"{path}.rows[{i}]", f"has columns {sorted(row)}, the first row has "
                                        f"{sorted(first)}; every row needs the same columns"))
        if any(p.path.startswith(f"{path}.rows[") for p in problems):
            continue
        for column in first:
            values = [row[column] for row in table.rows]
            if column_type(values) is None:
                kinds = sorted({type(v).__name__ for v in values if v is not None})
                problems.append(Problem(f"{path}.rows", f"column '{column}' mixes {kinds}; a column holds one type "
                                        "(int and float mix into float)"))
        if table.name in first:
            labels = [row[table.name] for row in table.rows]
            repeated = sorted(str(v) for v, c in Counter(labels).items() if c > 1)
            if repeated or None in labels:
                problems.append(Problem(f"{path}.rows", f"column '{table.name}' names the rows and must be unique and "
                                        f"not null; repeated or null: {repeated or ['null']}"))
        for column in table.columns:
            if column not in first:
                problems.append(Problem(f"{path}.columns.{column}", f"unknown column '{column}'; the rows have {first}"))
    return problems
