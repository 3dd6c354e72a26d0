"""Errors a user can cause (shown without a traceback) versus bugs (everything else)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a spec: where it is, and what is wrong and allowed."""

    path: str
    message: str

    def render(self, prefix: str = "") -> str:
        path = f"{prefix}.{self.path}" if prefix and self.path else (prefix or self.path)
        return f"{path}: {self.message}" if path else self.message


class PlotsimError(Exception):
    """Base class for errors caused by the user's input or environment, never by a bug."""


class SpecError(PlotsimError):
    """A spec with one or more mistakes; every problem is reported at once, sorted by path."""

    def __init__(self, problems: list[Problem] | Problem, prefix: str = ""):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems = sorted(set(problems))
        self.prefix = prefix
        super().__init__(self.render())

    def with_prefix(self, prefix: str) -> "SpecError":
        joined = f"{prefix}.{self.prefix}" if self.prefix else prefix
        return SpecError(self.problems, prefix=joined)

    def lines(self) -> list[str]:
        return [p.render(self.prefix) for p in self.problems]

    def render(self) -> str:
        count = len(self.problems)
        head = "1 problem in the synthetic spec" if count == 1 else f"{count} problems in the synthetic spec"
        return head + ":\n" + "\n".join(f"  - {line}" for line in self.lines())


class WriteError(PlotsimError):
    """The output could not be written (file locked, directory not writable); nothing was changed."""
