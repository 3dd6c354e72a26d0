"""A temporal holdout: dim_date's `split` says which periods are train and which are held out."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..spec.features import holdout_period

TRAIN, HOLDOUT = "train", "holdout"


def split_fields(plan) -> list[pa.Field]:
    """dim_date's split column, when a holdout is declared."""
    first = holdout_period(plan.spec)
    if first is None:
        return []
    day = plan.starts[first]
    return [pa.field("split", pa.string(), nullable=False, metadata={"description": (
        f"{TRAIN} before {day} (the holdout's first period), {HOLDOUT} from it on.")})]


def split_columns(plan) -> dict[str, np.ndarray]:
    first = holdout_period(plan.spec)
    if first is None:
        return {}
    return {"split": np.where(np.arange(plan.periods) < first, TRAIN, HOLDOUT).astype(object)}
