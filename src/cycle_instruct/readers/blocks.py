"""What every reader returns: blocks of plain text with their place in the document."""

from dataclasses import dataclass

from ..text import QUESTION_MARKS, has_question_mark

# Sphinx roles whose text is code, in reStructuredText (:func:`x`) and in MyST ({func}`x`) alike
CODE_ROLES = frozenset(
    "attr class code command confval const data envvar exc file func kbd keyword literal makevar meth mod obj option program "
    "samp token".split()
)


@dataclass
class Block:
    kind: str  # heading | paragraph | code | term (a definition-list term that asks a question)
    text: str
    section: tuple[str, ...] = ()  # the headings above it, outermost first
    code: tuple[str, ...] = ()  # literal spans in `text` (inline code, code blocks): never read as a question
    cited: tuple[str, ...] = ()  # link texts in `text`: a question there names another text (see "How do I ...?")


def reflow(text: str) -> str:
    """Prose as one line: source line wraps are layout, not content."""
    return " ".join(text.split())


def fence(code: str, language: str = "") -> str:
    """A code block as a Markdown fence: chat trainers and viewers show it as code, and later
    checks (reformat's `changed_code`) can tell it from prose."""
    return f"```{language}\n{code.strip(chr(10)).rstrip()}\n```"


class Builder:
    """Collects blocks while a reader walks a parsed document.

    Headings set the section path (and are blocks of their own: a question heading is a
    question); a code block joins the paragraph that introduces it; a list joins the paragraph
    before it when that one ends with ':' (its intro), else it is a paragraph of its own.
    """

    def __init__(self):
        self.blocks: list[Block] = []
        self.levels: list[tuple[int, str]] = []  # the open headings: (level, text)

    @property
    def path(self) -> list[str]:
        return [text for _, text in self.levels]

    def heading(self, level: int, text: str) -> None:
        """A heading closes every open one of its level or deeper (levels may skip: h2 under no h1)."""
        text = reflow(text)
        if not text:
            return
        while self.levels and self.levels[-1][0] >= level:
            self.levels.pop()
        self.blocks.append(Block("heading", text, tuple(self.path)))
        self.levels.append((level, text))

    def paragraph(self, text: str, code=(), cited=()) -> None:
        text = reflow(text)
        if text:
            self.blocks.append(Block("paragraph", text, tuple(self.path), tuple(c for c in code if c.strip()), _cited(cited)))

    def question_term(self, term: str, code=()) -> None:
        """A definition-list term that asks a question, as in FAQs written as lists: a block of its
        own, its definition following as paragraphs. A term that goes on from its heading's stem
        ('How do I...' then '... get section numbers?') is given the stem: a question must stand alone."""
        text = reflow(term)
        stem = self.levels[-1][1] if self.levels else ""
        if text.startswith(("...", "…")) and stem.endswith(("...", "…")):
            text = f"{stem.rstrip('.…').rstrip()} {text.lstrip('.… ')}"
        self.blocks.append(Block("term", text, tuple(self.path), tuple(c for c in code if c.strip())))

    def code(self, text: str, language: str = "") -> None:
        text = text.strip("\n").rstrip()
        if not text.strip():
            return
        fenced = fence(text, language)
        last = self.blocks[-1] if self.blocks else None
        if last and last.kind == "paragraph" and last.section == tuple(self.path):
            last.text, last.code = f"{last.text}\n{fenced}", (*last.code, text)
        else:
            self.blocks.append(Block("code", fenced, tuple(self.path), (text,)))

    def listing(self, items: list[tuple[str, tuple[str, ...]]], cited=()) -> None:
        """A list: (item text, its literal spans) per item, one '- item' line each."""
        items = [(text.strip(), code) for text, code in items if text.strip()]
        if not items:
            return
        text = "\n".join(f"- {t}" for t, _ in items)
        code = tuple(c for _, cs in items for c in cs if c.strip())
        last = self.blocks[-1] if self.blocks else None
        if last and last.kind == "paragraph" and last.section == tuple(self.path) and last.text.rstrip().endswith(":"):
            last.text, last.code, last.cited = f"{last.text}\n{text}", (*last.code, *code), (*last.cited, *_cited(cited))
        else:
            self.blocks.append(Block("paragraph", text, tuple(self.path), code, _cited(cited)))


def asks(term: str) -> bool:
    """A definition-list term written as a question (it ends with a question mark)."""
    return term.strip().endswith(QUESTION_MARKS)


def _cited(texts) -> tuple[str, ...]:
    """Link texts worth passing on: those with a question mark."""
    return tuple(dict.fromkeys(t for t in (reflow(x) for x in texts) if has_question_mark(t)))
