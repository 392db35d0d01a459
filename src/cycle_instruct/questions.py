"""Which paragraphs are questions: the paper's rule (`contains`) or one that holds on real documents (`sentence`).

`contains` (segment.question_rule: contains): a paragraph with a question mark (text.QUESTION_MARKS)
is a question, as in the paper.

`sentence` (the default): a question mark counts only where it ends a sentence of prose. Marks
are ruled out, in this order, when they sit
- in code: inline code (`x?`, or a literal span a reader found), a fenced or indented code
  block, a doctest/`>>>` or shell-prompt line;
- in a comment: an rst comment line (`.. note to self?`) or an HTML comment;
- in a URL: `groups.google.com/groups?selm=...`, `https://x.org/a?b=1`;
- in a quotation that cites another text: `see Section 6.1, "How many ... are there?"`
  (a quotation that is the whole paragraph is still a question);
- inside a word or token, not at a sentence end: `a?b`, `?selm=`, `(?P<name>...)`; a path or
  shell glob (`/etc/rc?.d/[SK]??*`, `file?.txt`, `[a-z]?[0-9]`: the token goes on after the mark
  and its closing punctuation, or, in a token with a '/', a '*' follows it); a mark that opens a
  bracket (`IRIX (?).`, `(? = S, 0 .. 6)`).
A paragraph whose question marks all fall there is not a question; nor is one whose last
question is followed, on its line, by TRAILING_STATEMENTS or more sentences: an answer that
asks a question and answers it ("What gives? Check the class attribute. ..."), or a list of
"Question? Answer." items.
`why_not` returns None for a question, else the reason of the first mark ruled out (one name per
part of the rule, counted in metrics/segment.json as question_rule_rejected_<reason>).
"""

import re
from bisect import bisect_right

from .text import QUESTION_MARKS

RULES = ("contains", "sentence")
REASONS = (
    "no_question_mark",
    "mark_in_code",
    "mark_in_comment",
    "mark_in_url",
    "mark_in_quotation",
    "mark_inside_token",
    "answer_after_question",
)
_MARK = re.compile(f"[{''.join(QUESTION_MARKS)}]")
_CODE = [
    re.compile(r"^(?P<fence>```|~~~).*?^(?P=fence)[^\n]*$", re.M | re.S),  # fenced block
    re.compile(r"(`+)[^`\n]+?\1"),  # inline code, rst ``literal`` too
    re.compile(r"^[^\S\n]*(?:>>>|\.\.\.|\$|In \[\d+\]:)[^\S\n].*$", re.M),  # doctest, shell and IPython prompts
    re.compile(r"::[^\S\n]*\n(?:[^\S\n]*\n|[^\S\n]+\S.*(?:\n|$))+"),  # rst literal block: indented lines after '::'
]
_COMMENT = [
    re.compile(r"^\.\.(?![^\S\n]*\w[\w:-]*::)(?:[^\S\n].*)?(?:\n[^\S\n]+.*)*", re.M),  # rst comment (not a directive)
    re.compile(r"<!--.*?(?:-->|$)", re.S),
]
_URL = re.compile(
    r"""(?:\b[a-z][a-z0-9+.-]*://|\bwww\.|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/)[^\s<>"'`]*[^\s<>"'`?.!,;:)\]}]""", re.I
)
_QUOTE = re.compile(r'"[^"\n]+"|“[^”]+”|‘[^’]+’|«[^»]+»|„[^“”]+[“”]|「[^」]+」|『[^』]+』')
TRAILING_STATEMENTS = 3  # an answer may ask a question, then go on to answer it at length
_STATEMENT_END = re.compile(r"[.!。！](?=\s|$)")
_SENTENCE_END = re.compile(
    rf"""[\s"'”’»」』)\]*_.!…{"".join(QUESTION_MARKS)}]|$"""
)  # what may follow a mark that ends a sentence
_CLOSING = re.compile(rf"""["'”’»」』)\]*_.!…{"".join(QUESTION_MARKS)}]*""")  # what a sentence's mark may close
_CLOSING_IN_PATH = re.compile(rf"""["'”’»」』)\]_.!…{"".join(QUESTION_MARKS)}]*""")  # in a path a '*' is a glob, not emphasis
_TOKEN_GOES_ON = re.compile(r"[\w/\\\[*]", re.ASCII)  # path and glob characters (not CJK text, written without spaces)


def why_not(text: str, rule: str = "sentence", code: tuple[str, ...] = (), cited: tuple[str, ...] = ()) -> str | None:
    """None if `text` is a question under `rule`, else the reason it is not (one of REASONS).

    `code`: literal spans a markup reader found in the text (inline literals, code blocks);
    marks inside them are code even where no backticks are left to show it. `cited`: link
    texts; a question there names another text ('Also see How do I ...?'), like a quotation.
    """
    if not _MARK.search(text):
        return "no_question_mark"
    if rule == "contains":
        return None
    spans = {reason: [] for reason in ("mark_in_code", "mark_in_comment", "mark_in_quotation")}
    for literal in code:
        if _MARK.search(literal):  # matched across whitespace: a reader may have reflowed it
            spans["mark_in_code"] += [m.span() for m in re.finditer(r"\s+".join(map(re.escape, literal.split())), text)]
    spans["mark_in_code"] += [m.span() for pattern in _CODE for m in pattern.finditer(text)]
    spans["mark_in_comment"] = [m.span() for pattern in _COMMENT for m in pattern.finditer(text)]
    whole = text.strip()
    spans["mark_in_quotation"] = [
        m.span() for m in _QUOTE.finditer(text) if m.group() != whole and m.group()[1:-1].strip() != whole.strip("-*• ")
    ]
    for link in cited:
        if link.strip() != whole:
            spans["mark_in_quotation"] += [m.span() for m in re.finditer(r"\s+".join(map(re.escape, link.split())), text)]
    inside = {reason: _Spans(found) for reason, found in spans.items()}

    def reason_for(at: int) -> str | None:
        reason = next((r for r, found in inside.items() if at in found), None)
        if reason is None and _in_url(text, at):
            reason = "mark_in_url"
        if reason is None and not _ends_sentence(text, at):
            reason = "mark_inside_token"
        return reason

    marks = [m.start() for m in _MARK.finditer(text)]
    last = next((at for at in reversed(marks) if reason_for(at) is None), None)  # the last question asked
    if last is None:
        return reason_for(marks[0])
    after = text[last + 1 :].split("\n", 1)[0]  # the rest of its line (a list item)
    if len(_STATEMENT_END.findall(after)) >= TRAILING_STATEMENTS:
        return "answer_after_question"
    return None


def _ends_sentence(text: str, at: int) -> bool:
    """Whether the mark at `at` may end a sentence: not inside a word, a path or a glob, nor opening a bracket."""
    if not _SENTENCE_END.match(text, at + 1) or (at and text[at - 1] in "([{"):
        return False
    start = max(text.rfind(c, 0, at) for c in " \n\t") + 1
    closing = _CLOSING_IN_PATH if "/" in text[start:at] else _CLOSING
    return not _TOKEN_GOES_ON.match(text, closing.match(text, at + 1).end())


def _in_url(text: str, at: int) -> bool:
    """Whether the mark at `at` is inside a URL (looked for in its whitespace-free token only)."""
    start = max(text.rfind(c, 0, at) for c in " \n\t") + 1
    ends = [i for i in (text.find(c, at) for c in " \n\t") if i >= 0]
    end = min(ends) if ends else len(text)
    return any(a <= at < b for a, b in (m.span() for m in _URL.finditer(text, start, end)))


class _Spans:
    """Character ranges, merged: `at in spans` in log time (a 20 MB paragraph may hold 300,000 marks)."""

    def __init__(self, spans):
        self.starts, self.ends = [], []
        for a, b in sorted(spans):
            if self.ends and a <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], b)
            else:
                self.starts.append(a)
                self.ends.append(b)

    def __contains__(self, at: int) -> bool:
        i = bisect_right(self.starts, at) - 1
        return i >= 0 and at < self.ends[i]


def is_question(text: str, rule: str = "sentence", code: tuple[str, ...] = (), cited: tuple[str, ...] = ()) -> bool:
    return why_not(text, rule, code, cited) is None
