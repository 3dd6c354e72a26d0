"""Shared pydantic base: strict (unknown keys are errors), frozen once validated."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

IDENTIFIER = r"^[a-z][a-z0-9_]{0,62}$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER)]
IDENTIFIER_HELP = "lower-case letters, digits and underscores, starting with a letter (it becomes a SQL name)"


def is_identifier(value: str) -> bool:
    return bool(re.match(IDENTIFIER, value))


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
