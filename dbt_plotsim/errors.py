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
        text = f"{path}: {self.message}" if path else self.message
        return _shortened(text)


LONGEST_WORD = 120  # a name or value longer than this is cut when echoed back


def _shortened(text: str) -> str:
    """Echo user input in bounded form: each overlong run of characters is cut, and control characters
    (a newline inside a name) are shown escaped so every problem stays on one line."""
    import re

    text = "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
    return re.sub(r"\S{%d,}" % (LONGEST_WORD + 1),
                  lambda m: f"{m.group(0)[:60]}...({len(m.group(0)):,} characters)", text)


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
