"""Plain text: paragraphs between blank lines, as the paper splits documents."""

from collections import Counter

from ..text import split_paragraphs
from .blocks import Block


def read(text: str, stats: Counter) -> list[Block]:
    return [Block("paragraph", p) for p in split_paragraphs(text, stats)]
