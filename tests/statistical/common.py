"""Helpers for statistical tests: a medium spec and pooled columns of generated tables."""
from __future__ import annotations

import numpy as np

import dbt_plotsim


def medium_spec(metrics: list[dict], **extra) -> dict:
    """3,000 entities x 24 months over five archetypes: big enough for stable pooled statistics."""
    spec = {
        "unit": "entity",
        "window": {"start": "2024-01-01", "end": "2025-12-31", "grain": "month"},
        "seed": 11,
        "metrics": metrics,
        "segments": [
            {"name": "growers", "count": 700, "archetype": "growth"},
            {"name": "decliners", "count": 500, "archetype": "decline"},
            {"name": "steady", "count": 800, "archetype": "flat"},
            {"name": "spiky", "count": 500, "archetype": "spike_then_crash"},
            {"name": "seasonal", "count": 500, "archetype": "seasonal"},
        ],
    }
    spec.update(extra)
    return spec


def columns(tables: dict, unit: str = "entity") -> dict[str, np.ndarray]:
    """Every metric column as float (nulls as NaN), in entity-then-period order."""
    out = {}
    for name, table in tables.items():
        if name.startswith("fct_"):
            for field in table.schema:
                if field.name not in (f"{unit}_id", "date_key"):
                    out[field.name] = table.column(field.name).to_numpy(zero_copy_only=False).astype(float)
    out["position"] = tables["trajectory"].column("position").to_numpy()
    return out


def pooled_r(x: np.ndarray, y: np.ndarray) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def generate(spec: dict) -> dict:
    return dbt_plotsim.generate(spec)
