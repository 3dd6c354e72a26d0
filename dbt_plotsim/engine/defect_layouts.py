"""How declared defects change a table's layout: a number column that arrives as text, a column renamed or
added from a period on; and which columns each kind of defect can change."""
from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ..spec.defects import ROW_KINDS


def period_column(table_schema: pa.Schema, rule) -> str | None:
    if rule is not None and rule.period is not None:
        return rule.period
    return "date_key" if "date_key" in table_schema.names else None


def _own_key(layout: pa.Schema, column: str) -> bool:
    """The table's own key: its first column, unless it is keyed by entity and period (a fact)."""
    return column == layout.names[0] and not (len(layout.names) > 1 and layout.names[1] == "date_key")


def _is_key(layout: pa.Schema, column: str) -> bool:
    return column == layout.names[0] or column.endswith(("_id", "_key")) or column.startswith("_")


def column_problem(plan, layout: pa.Schema, defect) -> tuple[str, str] | None:
    """(the key under the defect's path, what is wrong) when its kind cannot change the named column."""
    if defect.kind in ROW_KINDS:
        return None
    if defect.kind == "schema_drift" and defect.added is not None:
        return ("added", f"{defect.added!r} is already a column ({', '.join(layout.names)})") \
            if defect.added in layout.names else None
    if defect.column not in layout.names:
        return "column", f"the table has no column {defect.column!r} (it has {', '.join(layout.names)})"
    kind = layout.field(defect.column).type
    ranged = {m.name for m in plan.spec.metrics if m.range is not None}
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    wrong = {
        "messy_text": None if pa.types.is_string(kind) else "a text column",
        "invalid_value": None if pa.types.is_string(kind) else "a text (category) column",
        "wrong_timezone": None if pa.types.is_timestamp(kind) else "a timestamp column",
        "orphan": None if pa.types.is_integer(kind) and defect.column.endswith("_id")
        and not _own_key(layout, defect.column) else "a foreign key column (an *_id that is not the table's key)",
        "out_of_range": None if defect.column in ranged and numeric
        else "a number metric column with a declared range",
        "number_as_text": None if numeric and not _is_key(layout, defect.column) else "a number column that is not a key",
        "schema_drift": None if not _is_key(layout, defect.column) else "a column that is not a key",
    }[defect.kind]
    if wrong:
        return "column", f"{defect.kind} needs {wrong}; {defect.column} is not one ({kind})"
    if defect.kind == "schema_drift" and defect.renamed_to in layout.names:
        return "renamed_to", f"{defect.renamed_to!r} is already a column ({', '.join(layout.names)})"
    return None


def reshaped(layout: pa.Schema, defect) -> pa.Schema:
    """The layout after the defect: as drawn, except for number_as_text and schema_drift."""
    if defect.kind == "number_as_text":
        old = layout.field(defect.column)
        note = (old.metadata or {}).get(b"description", b"").decode()
        return layout.set(layout.get_field_index(defect.column), pa.field(old.name, pa.string(), True, {
            "description": f"{note} Arrives as text (a declared defect): some values are formatted by hand, "
                           "such as '1,234.50', '$1,234.50', '1.234,50' or 'N/A'.".strip()}))
    if defect.kind != "schema_drift":
        return layout
    start = defect.periods.from_.isoformat()
    if defect.added is not None:
        return layout.append(pa.field(defect.added, pa.string(), True, {
            "description": f"A column the source added from {start} on (a declared schema drift); null before."}))
    index = layout.get_field_index(defect.column)
    old = layout.field(defect.column)
    note = (old.metadata or {}).get(b"description", b"").decode()
    layout = layout.set(index, old.with_nullable(True).with_metadata({
        "description": f"{note} Null from {start} on, where the source renamed it to {defect.renamed_to} "
                       "(a declared schema drift).".strip()}))
    return layout.insert(index + 1, pa.field(defect.renamed_to, old.type, True, {
        "description": f"{defect.column} under the name the source uses from {start} on (a declared schema "
                       "drift); null before."}))


@dataclass(frozen=True)
class Declared:
    """One defect of one table: its stream's name (stable when other entries come and go) and YAML path."""

    name: str
    path: str
    defect: object


def by_table(plan, layouts: dict[str, pa.Schema]) -> dict[str, list[Declared]]:
    """Per table, its defects in the order they apply: the table's own, then the source-wide ones that fit it
    (every entity table keyed by an integer for a copy or volume kind, those with the column for a cell kind;
    with periods or segments, only tables that have a period column or the unit's key)."""
    from .tables import TRAJECTORY_TABLE, static_names

    defects = plan.spec.defects
    out = {table: [Declared(str(i), f"defects.tables.{table}[{i}]", d) for i, d in enumerate(listed)]
           for table, listed in defects.tables.items()}
    if not defects.every_table:
        return out
    static = set(static_names(plan, layouts)) | set(unnamed_rows(plan))
    entity_tables = [name for name, layout in layouts.items()
                     if name not in static and name != TRAJECTORY_TABLE and not name.startswith("_")
                     and not name.endswith("_changes") and pa.types.is_integer(layout.field(0).type)]
    from .clock import rules_for
    from .tables import unit_key

    rules = rules_for(plan, layouts)
    for i, defect in enumerate(defects.every_table):
        for table in entity_tables:
            layout = layouts[table]
            if defect.periods is not None and period_column(layout, rules.get(table)) is None:
                continue  # limited to periods: only tables that have them
            if defect.segments and unit_key(plan) not in layout.names:
                continue
            if defect.kind in ROW_KINDS or defect.column in layout.names \
                    or (defect.kind == "schema_drift" and defect.added is not None):
                out.setdefault(table, []).append(Declared(f"every-{i}", f"defects.every_table[{i}]", defect))
    return out


def unnamed_rows(plan) -> list[str]:
    """Tables whose rows the answer key cannot name by their first column and period: the bridges."""
    return [bridge.table(plan.spec.unit) for bridge in plan.spec.tables.bridges]


def unmatched(plan, declared: dict[str, list[Declared]]) -> list[tuple[str, str]]:
    """(path, message) for each source-wide defect no table takes."""
    taken = {d.path for entries in declared.values() for d in entries}
    return [(f"defects.every_table[{i}]", f"no entity table fits this {d.kind}" + (
        f": none has a column {d.column!r}" if d.column else "") + (" with periods" if d.periods else ""))
            for i, d in enumerate(plan.spec.defects.every_table) if f"defects.every_table[{i}]" not in taken]


def shown_schemas(schemas: dict[str, pa.Schema], declared: dict[str, list[Declared]]) -> dict[str, pa.Schema]:
    """The layouts the tables are written in: each defective table reshaped by its defects in order."""
    out = dict(schemas)
    for table, entries in declared.items():
        if table in out:
            for entry in entries:
                out[table] = reshaped(out[table], entry.defect)
    return out
