"""Reading a spec from YAML or a dict, with every mistake reported at once under its YAML path."""
from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import re
from typing import Any, Mapping

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import Problem, SpecError
from .checks import check_references, suggest
from .model import Spec
from .segments import Segment
from .totals import with_scaled_totals
from .exact_rates import misplaced
from .window import month_shorthand
from .yaml_input import read_yaml


def parse_spec(data: Any) -> Spec:
    """Structural and cross-reference validation; raises SpecError with every problem found."""
    if not isinstance(data, Mapping):
        raise SpecError(Problem("", f"a spec is a mapping of keys (unit, window, metrics, ...), got {type(data).__name__}"))
    try:
        spec = Spec.model_validate(dict(data))
    except ValidationError as exc:
        problems = [_problem_from_pydantic(err, data) for err in exc.errors()]
        salvaged = _salvage(data)  # the valid parts, so cross-reference mistakes are reported too
        if salvaged is not None:
            problems += check_references(salvaged, _declared_names(data))
        raise SpecError(problems) from None
    problems = check_references(spec)
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(source: str | os.PathLike | Mapping[str, Any] | Spec, *, scale: float = 1.0,
              as_of: str | dt.date | None = None) -> Spec:
    """Load and fully validate a spec (a YAML file path, a mapping or a Spec).

    `scale` multiplies every segment count (rounded, at least 1 where the count was positive), to make
    the same story at another size; `as_of` replaces `window.as_of` (how much of the window has happened).
    Raises SpecError naming every problem; returns a frozen Spec.
    """
    from ..engine.budget import check as check_budget  # feasibility and size need the engine's maths
    from ..engine.pipeline import start
    from ..engine.plan import check_feasible

    if isinstance(source, Spec):
        spec = source
    else:
        data = read_yaml(source) if isinstance(source, (str, os.PathLike)) else source
        spec = parse_spec(data)
    if scale != 1.0:
        spec = scaled(spec, scale)
    if as_of is not None:
        spec = at(spec, as_of)
    problems = check_feasible(spec) or check_budget(start(spec))
    if problems:
        raise SpecError(problems)
    return spec


def at(spec: Spec, as_of: str | dt.date) -> Spec:
    """The spec with `window.as_of` set: a date (or yyyy-mm for the first of that month) inside the window."""
    try:
        date = dt.date.fromisoformat(month_shorthand(as_of)) if isinstance(as_of, str) else as_of
    except ValueError:
        raise SpecError(Problem("window.as_of", f"{as_of!r} is not a date; give yyyy-mm-dd (or yyyy-mm)")) from None
    window = spec.window
    if not (window.start <= date <= window.end):
        raise SpecError(Problem("window.as_of", f"{date} lies outside the window {window.start}..{window.end}; "
                                "as_of says how much of the window has happened"))
    return spec.model_copy(update={"window": window.model_copy(update={"as_of": date})})


def scaled(spec: Spec, scale: float) -> Spec:
    """The same story with `scale` times the entities (and declared totals `scale` times as large)."""
    if not (math.isfinite(scale) and scale > 0):
        raise SpecError(Problem("scale", f"{scale} must be a positive, finite number"))
    limit = Segment.model_fields["count"].metadata
    maximum = next(m.le for m in limit if getattr(m, "le", None) is not None)
    counts = {s.name: (max(1, round(s.count * scale)) if s.count else 0) for s in spec.segments}
    too_big = [Problem(f"segments.{name}.count", f"{count:,} after scale {scale:g} is above the limit of {maximum:,}")
               for name, count in counts.items() if count > maximum]
    if too_big:
        raise SpecError(too_big)
    segments = tuple(s.model_copy(update={"count": counts[s.name]}) for s in spec.segments)
    out = with_scaled_totals(spec.model_copy(update={"segments": segments}), scale)
    problems = check_references(out)  # what depends on the entity count (a pattern's combinations)
    if problems:
        raise SpecError(problems)
    return out


def _salvage(data: Mapping[str, Any]) -> Spec | None:
    """A spec built from the parts of `data` that validate on their own, or None if too little does."""
    values: dict[str, Any] = {}
    for name, field in Spec.model_fields.items():
        raw = data.get(name)
        if raw is None:
            continue
        model = _model_in(field.annotation)
        if isinstance(raw, list) and model is not None and field.annotation is not model:
            kept = []
            for item in raw:
                try:
                    kept.append(model.model_validate(item))
                except ValidationError:
                    pass
            values[name] = tuple(kept)
        elif name == "archetypes" and isinstance(raw, Mapping):
            values[name] = {k: v for k, v in ((k, _valid_pieces(v)) for k, v in raw.items()) if v is not None}
        else:
            try:
                value = TypeAdapter(field.annotation).validate_python(raw)
            except (ValidationError, TypeError):
                continue
            if model is not None and field.annotation is model and not isinstance(value, model):
                continue  # coerced into something else (a list for a model): not a salvaged part
            values[name] = value
    if "unit" not in values:
        return None
    defaults = {k: f.get_default(call_default_factory=True) for k, f in Spec.model_fields.items() if not f.is_required()}
    return Spec.model_construct(**{**defaults, "metrics": (), "segments": (), "window": None, **values})


def _declared_names(data: Mapping[str, Any]) -> dict[str, list[str]]:
    metrics = data.get("metrics") if isinstance(data.get("metrics"), list) else []
    archetypes = data.get("archetypes") if isinstance(data.get("archetypes"), Mapping) else {}
    return {
        "metrics": [m["name"] for m in metrics if isinstance(m, Mapping) and isinstance(m.get("name"), str)],
        "archetypes": [str(k) for k in archetypes],
    }


def _valid_pieces(raw: Any):
    from .archetypes import CurvePiece

    try:
        return tuple(CurvePiece.model_validate(p) for p in raw)
    except (ValidationError, TypeError):
        return None


# ---------------------------------------------------------------- pydantic error -> YAML path and message

def _problem_from_pydantic(err: Mapping[str, Any], data: Any) -> Problem:
    loc = tuple(err["loc"])
    path, model = _named_path(loc, data)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = sorted(_allowed_keys(model)) if model else []
        key = str(loc[-1])
        moved = misplaced(key, model)
        if moved is not None:
            return Problem(path, moved)
        return Problem(path, f"unknown key '{key}'; {suggest(key, allowed).replace('known', 'allowed')}")
    if kind == "missing":
        return Problem(path, "is required")
    if kind == "too_short":
        least = (err.get("ctx") or {}).get("min_length", 1)
        return Problem(path, f"must list at least {least} item{'s' if least != 1 else ''}")
    message = err["msg"].replace("Input should be", "must be")
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if kind.startswith("string_pattern"):
        message = "must be " + _identifier_help()
    if kind == "model_type" or kind == "dict_type":
        message = f"must be a mapping of keys, got {type(value).__name__}"
    shown = _show(value)
    if shown and kind not in ("model_type", "dict_type") and "got" not in message:
        message = f"{message}; got {shown}"
    if kind == "literal_error" and isinstance(value, str):
        close = difflib.get_close_matches(value, [str(e) for e in (err.get("ctx") or {}).get("expected_values", ())]
                                          or _quoted(err["msg"]), n=1)
        if close:
            message = f"{message}; did you mean '{close[0]}'?"
    return Problem(path, message)


def _quoted(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def _identifier_help() -> str:
    from .base import IDENTIFIER_HELP

    return IDENTIFIER_HELP


def _show(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)) and len(str(value)) > 60:
        return ""
    return repr(value) if value is not None else ""


def _item_name(section: str, item: Any, index: int) -> str:
    if isinstance(item, Mapping):
        if section == "correlations" and isinstance(item.get("between"), (list, tuple)):
            pair = "~".join(str(x) for x in item["between"])
            scope = item.get("scope", "pooled")
            pair = pair if scope == "pooled" else f"{pair}@{scope}"
            during = item.get("during")
            if isinstance(during, Mapping) and "from" in during and "until" in during:
                pair += f"[{during['from']}..{during['until']}]"
            return pair
        for key in ("name", "metric", "attribute", "reference", "table"):
            if isinstance(item.get(key), str):
                return item[key]
    return f"[{index}]"


def _named_path(loc: tuple, data: Any) -> tuple[str, type[BaseModel] | None]:
    """('metrics', 1, 'range') -> 'metrics.mrr.range', plus the model in effect at the last key."""
    parts: list[str] = []
    node: Any = data
    model: type[BaseModel] | None = Spec
    section = ""
    for element in loc:
        if isinstance(element, int):
            item = node[element] if isinstance(node, (list, tuple)) and element < len(node) else None
            name = _item_name(section, item, element)
            if name.startswith("["):
                parts[-1] = parts[-1] + name if parts else name
            else:
                parts.append(name)
            node = item
            continue
        element = str(element)
        if element in ("function-after", "function-before") or "[" in element:
            continue
        parts.append(element)
        node = node.get(element) if isinstance(node, Mapping) else None
        field_model = _field_model(model, element)
        if model is not None and field_model is None and element not in _allowed_keys(model):
            continue  # a key of a mapping (archetypes.<name>), not a field: the item model stays
        section = element
        model = field_model
    return ".".join(parts), model


def _field_model(model: type[BaseModel] | None, key: str) -> type[BaseModel] | None:
    if model is None:
        return None
    field = model.model_fields.get(key) or next(
        (f for f in model.model_fields.values() if f.alias == key), None
    )
    if field is None:
        return None
    return _model_in(field.annotation)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}
