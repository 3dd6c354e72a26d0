"""How declared defects change a table's layout: a number column that arrives as text, a column renamed or
added from a period on; and which columns each kind of defect can change."""
from __future__ import annotations

import pyarrow as pa

from ..spec.defects import ROW_KINDS


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


def shown_schemas(plan, schemas: dict[str, pa.Schema]) -> dict[str, pa.Schema]:
    """The layouts the tables are written in: each defective table reshaped by its defects in order."""
    out = dict(schemas)
    for table, defects in plan.spec.defects.tables.items():
        if table in out:
            for defect in defects:
                out[table] = reshaped(out[table], defect)
    return out
