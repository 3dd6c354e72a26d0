"""The template language of `type: pattern` (attributes and event payload fields), parsed once.

`#` a digit 0-9, `?` an upper-case letter A-Z, `*` a digit or upper-case letter, `{n}` the entity's
number zero-padded to the width of the entity count (as in <unit>_code), `\\` takes the next character
literally; every other character is itself. "ACC-####-??" gives ACC-0417-QX.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

ALPHABETS = {"#": "0123456789", "?": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "*": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
NUMBER = "{n}"
MAX_LENGTH = 200
LANGUAGE = ("`#` a digit, `?` an upper-case letter, `*` a digit or letter, `{n}` the entity's number, "
            "`\\` before a character to keep it literal")


@dataclass(frozen=True)
class Token:
    """A literal run (`text`), a drawn character (`alphabet`), or the entity number (`number`)."""

    text: str = ""
    alphabet: str = ""
    number: bool = False


def parse(pattern: str) -> tuple[tuple[Token, ...], str | None]:
    """The pattern's tokens, and what is wrong with it (None when it is fine)."""
    if not pattern:
        return (), f"is empty; give a template such as 'ACC-####-??' ({LANGUAGE})"
    if len(pattern) > MAX_LENGTH:
        return (), f"has {len(pattern)} characters; at most {MAX_LENGTH}"
    control = sorted({repr(c) for c in pattern if not c.isprintable()})
    if control:
        return (), f"'{pattern}' holds control characters {control}; a pattern is printable text"
    tokens: list[Token] = []
    literal = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 == len(pattern):
                return (), f"'{pattern}' ends with `\\`, which escapes nothing; write `\\\\` for a backslash"
            literal += pattern[i + 1]
            i += 2
            continue
        if char == "{":
            end = pattern.find("}", i)
            placeholder = pattern[i:end + 1] if end >= 0 else pattern[i:]
            if placeholder != NUMBER:
                return (), (f"'{pattern}' has an unknown placeholder '{placeholder}'; the only one is {NUMBER} "
                            "(the entity's number); write `\\{` for a literal brace")
            number = True
        else:
            number = False
        if number or char in ALPHABETS:
            if literal:
                tokens.append(Token(text=literal))
                literal = ""
            tokens.append(Token(number=True) if number else Token(alphabet=ALPHABETS[char]))
            i += len(NUMBER) if number else 1
            continue
        literal += char
        i += 1
    if literal:
        tokens.append(Token(text=literal))
    if not any(t.alphabet or t.number for t in tokens):
        return (), f"'{pattern}' has no placeholder, so every value would be the same text; {LANGUAGE}"
    return tuple(tokens), None


def combinations(tokens: tuple[Token, ...]) -> int:
    """How many different values the drawn characters can make (the entity number aside)."""
    return math.prod(len(t.alphabet) for t in tokens if t.alphabet)


def numbered(tokens: tuple[Token, ...]) -> bool:
    return any(t.number for t in tokens)
