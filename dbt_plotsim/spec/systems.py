"""Several source systems seeing one population, with a ground-truth crosswalk (engine/systems.py).

systems:
  crm:
    share: 0.9                                   # share of the unit's entities this system holds
    key: {scheme: prefixed, prefix: "CRM-", width: 7}   # or {scheme: numeric, start: 100000} or {scheme: uuid}
    columns: [company_name, billing_email, region]      # dim_<unit> columns it carries
    drift: {company_name: 0.10, billing_email: {rate: 0.05, kinds: [dots, domain]}}
    duplicates: 0.03                             # share of its entities with a second record
  billing:
    share: 0.7
    key: {scheme: uuid}
    columns: [company_name]

Every entity is in at least one system, so the shares add up to 1 or more; each system gets a table
src_<system>_<unit>, and `_plotsim_crosswalk` maps every record to its true entity.
"""
from __future__ import annotations

import math

from pydantic import Field, field_validator

from ..errors import Problem
from .base import Identifier, StrictModel

SCHEMES = ("prefixed", "numeric", "uuid")
MAX_PREFIX = 12  # characters of a prefixed key before its digits
MAX_WIDTH = 18  # digits of a prefixed or numeric key (an int64 holds 18 digits)
CREATED_AT = "created_at"

# drift kinds by the kind of column carried (engine/drift.py makes them)
TEXT_KINDS = ("case", "whitespace", "typo")
DRIFT_KINDS: dict[str, tuple[str, ...]] = {
    "company_name": (*TEXT_KINDS, "suffix"),
    "email": ("case", "dots", "domain"),
    "country": ("code", "case"),
    "category": ("code", "label", "case"),
    "phone": ("digits", "whitespace"),
    "text": TEXT_KINDS,  # names, cities, the unit's code
}
ALL_KINDS = tuple(dict.fromkeys(k for kinds in DRIFT_KINDS.values() for k in kinds))


class SystemKey(StrictModel):
    scheme: str = Field(description="prefixed (prefix + digits), numeric (an integer from start) or uuid")
    prefix: str | None = Field(None, description="prefixed: the text before the digits")
    width: int | None = Field(None, ge=1, le=MAX_WIDTH, description="prefixed, numeric: digits of the key")
    start: int = Field(1, ge=0, description="numeric: the smallest key")


class Drift(StrictModel):
    rate: float = Field(gt=0.0, le=1.0, description="share of the system's rows whose value differs from the truth")
    kinds: tuple[str, ...] | None = Field(None, min_length=1, description="which kinds of drift (default: all "
                                                                          "the column's)")


def _drift(value):
    return {"rate": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class System(StrictModel):
    share: float = Field(gt=0.0, le=1.0, description="share of the unit's entities this system holds")
    key: SystemKey = SystemKey(scheme="numeric")
    columns: tuple[Identifier, ...] = ()
    drift: dict[Identifier, Drift] = Field(default_factory=dict)
    duplicates: float = Field(0.0, ge=0.0, lt=1.0, description="share of its entities with a second record")

    @field_validator("drift", mode="before")
    @classmethod
    def _rates(cls, value):
        """`column: 0.1` is short for `column: {rate: 0.1}`."""
        return {k: _drift(v) for k, v in value.items()} if isinstance(value, dict) else value


def system_table(system: str, unit: str) -> str:
    return f"src_{system}_{unit}"


def system_key(system: str, unit: str) -> str:
    return f"{system}_{unit}_id"


def carried_columns(spec) -> dict[str, str]:
    """column -> its drift family, for the dim_<unit> columns a system may carry."""
    out = {f"{spec.unit}_code": "text"}
    for attr in getattr(spec, "attributes", ()) or ():
        if attr.type in ("number", "date") or getattr(attr, "references", None) is not None:
            out[attr.column] = ""  # carried as it is: no drift
        elif attr.type in DRIFT_KINDS:
            out[attr.column] = attr.type
        elif attr.type in ("first_name", "last_name", "person_name", "city"):
            out[attr.column] = "text"
        else:  # a type without drift kinds (added later): carried only
            out[attr.column] = ""
    return out


def nearest_shares(shares: list[float]) -> list[float]:
    """The nearest shares (least squares) adding up to 1 at least: each raised by the same amount, capped at 1,
    rounded up to 3 decimals."""
    raised = list(shares)
    for _ in range(len(shares)):
        missing = 1.0 - sum(raised)
        free = [i for i, s in enumerate(raised) if s < 1.0]
        if missing <= 1e-12 or not free:
            break
        step = missing / len(free)
        for i in free:
            raised[i] = min(1.0, raised[i] + step)
    return [math.ceil(s * 1000 - 1e-9) / 1000 for s in raised]


def check_systems(spec) -> list[Problem]:
    from .checks import suggest

    systems = getattr(spec, "systems", None) or {}
    if not systems:
        return []
    problems: list[Problem] = []
    shares = [s.share for s in systems.values()]
    if sum(shares) < 1.0 - 1e-9:
        near = dict(zip(systems, nearest_shares(shares)))
        problems.append(Problem("systems", (
            f"the shares add up to {sum(shares):g}; every {spec.unit} is in at least one system, so they must add up "
            f"to 1 or more: the nearest that do are {', '.join(f'{k}: {v:g}' for k, v in near.items())}")))
    carried = carried_columns(spec)
    known = sorted(carried)
    for name, system in systems.items():
        path = f"systems.{name}"
        problems.extend(_check_key(path, system.key, suggest))
        for column in system.columns:
            if column not in carried:
                problems.append(Problem(f"{path}.columns", f"unknown column '{column}' of dim_{spec.unit}; "
                                        + suggest(column, known)))
        own = {system_key(name, spec.unit), CREATED_AT}
        for column in sorted(own & set(system.columns)):
            problems.append(Problem(f"{path}.columns", f"'{column}' is a column the system table makes itself; "
                                    "rename the attribute"))
        if len(set(system.columns)) != len(system.columns):
            problems.append(Problem(f"{path}.columns", "a column is listed more than once"))
        for column, drift in system.drift.items():
            where = f"{path}.drift.{column}"
            if column not in system.columns:
                problems.append(Problem(where, f"'{column}' is not carried by {name} (its columns: "
                                        f"{list(system.columns)}); add it to columns or drop the drift"))
                continue
            family = carried.get(column)
            if family is None:
                continue  # reported under columns
            if not family:
                problems.append(Problem(where, f"'{column}' is not a text column (drift changes text: names, emails, "
                                        "countries, categories, phones, codes); drop the drift"))
                continue
            allowed = list(DRIFT_KINDS[family])
            for kind in drift.kinds or ():
                if kind not in allowed:
                    problems.append(Problem(f"{where}.kinds", f"'{kind}' is not a drift kind of a {family} column; "
                                            + suggest(kind, allowed).replace("known", "allowed")))
    return problems


def _check_key(path: str, key: SystemKey, suggest) -> list[Problem]:
    where = f"{path}.key"
    if key.scheme not in SCHEMES:
        return [Problem(f"{where}.scheme", f"unknown scheme '{key.scheme}'; "
                        + suggest(key.scheme, list(SCHEMES)).replace("known", "allowed"))]
    problems: list[Problem] = []
    belongs = {"prefix": ("prefixed",), "width": ("prefixed", "numeric"), "start": ("numeric",)}
    for field, schemes in belongs.items():
        if field in key.model_fields_set and key.scheme not in schemes:
            problems.append(Problem(f"{where}.{field}", f"applies to scheme {' or '.join(schemes)}, not {key.scheme}"))
    if key.scheme == "prefixed":
        if key.prefix is None or not key.prefix:
            problems.append(Problem(f"{where}.prefix", "scheme prefixed needs a prefix, e.g. \"CRM-\""))
        elif len(key.prefix) > MAX_PREFIX:
            problems.append(Problem(f"{where}.prefix", f"'{key.prefix}' has {len(key.prefix)} characters; at most "
                                    f"{MAX_PREFIX}, e.g. '{key.prefix[:MAX_PREFIX]}'"))
        elif not key.prefix.isprintable() or key.prefix != key.prefix.strip():
            problems.append(Problem(f"{where}.prefix", f"{key.prefix!r} must be printable text without leading or "
                                    "trailing spaces"))
    return problems


def capacity_problems(spec, entity_count: int) -> list[Problem]:
    """Widths too small for the records a system may hold (an entity and its duplicate each take a key), and
    numeric keys past int64: checked on the plan, after `scale`."""
    problems: list[Problem] = []
    for name, system in (getattr(spec, "systems", None) or {}).items():
        key = system.key
        if key.scheme == "uuid":
            continue
        records = entity_count * (2 if system.duplicates > 0 else 1)
        width = key.width or needed_width(records)
        if 10**width < records:
            problems.append(Problem(f"systems.{name}.key.width", (
                f"{width} digits give {10**width:,} keys, fewer than the {records:,} records {name} may hold "
                f"({entity_count:,} {spec.unit}s" + (" and their duplicates" if system.duplicates > 0 else "")
                + f"); the nearest width that holds is {needed_width(records)}")))
        elif key.scheme == "numeric" and key.start + 10**width - 1 >= 2**63:
            problems.append(Problem(f"systems.{name}.key.start", f"{key.start} + 10^{width} passes the largest "
                                    "integer key (2^63 - 1); lower start or width"))
    return problems


def needed_width(records: int) -> int:
    return max(1, len(str(max(records - 1, 0))))
