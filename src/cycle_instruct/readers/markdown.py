"""Markdown (CommonMark, with tables) via markdown-it-py, including the MyST dialect Sphinx uses.

Headings give the section path; a fenced or indented code block joins the paragraph that
introduces it; raw HTML blocks are read by the HTML reader; front matter, tables, images,
HTML comments, MyST targets `(label)=` and `%` comments are dropped. MyST roles
({ref}`title <target>`) render as their text. MyST directive fences keep their body as
Markdown when it is prose ({note}, {seealso}, {tab-item}, ...), are dropped when their body
is not text for a reader (DROPPED: {toctree}, {contents}, {include}, tables, {auto...}), and
are code otherwise: {code-block}, and every directive the reader does not know. An unknown
directive is most often a project's own ({pip-cli} in pip's docs holds a shell session):
dropping it loses content silently, kept as a code block its text is shown as written and a
'?' in it never makes a question. {eval-rst} bodies are read as reStructuredText.
"""

import re
from collections import Counter

from markdown_it import MarkdownIt

from . import html, rst
from .blocks import CODE_ROLES, Block, Builder, fence

PROSE = {
    "note",
    "warning",
    "tip",
    "hint",
    "important",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "admonition",
    "versionadded",
    "versionchanged",
    "deprecated",
    "dropdown",
    "topic",
    "sidebar",
    "versionremoved",
    "margin",
    "epigraph",
    "pull-quote",
    "glossary",
    "tab-set",
    "tab-item",
    "tab",
    "grid",
    "grid-item",
    "grid-item-card",
    "card",
    "div",
    "container",
}
DROPPED = {
    "toctree",
    "contents",
    "tableofcontents",
    "include",
    "literalinclude",
    "raw",
    "image",
    "figure",
    "index",
    "meta",
    "highlight",
    "only",
    "ifconfig",
    "autosummary",
    "list-table",
    "csv-table",
    "table",
    "sectionauthor",
    "moduleauthor",
    "currentmodule",
    "module",
}
_FRONT_MATTER = re.compile(r"\A---[^\S\n]*\n.*?\n(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.S)
_ROLE = re.compile(r"\{([\w:+.-]+)\}$")
_MYST_LINE = re.compile(r"^(?:\([\w:.-]+\)=|%.*)$")  # a MyST target or comment line
_PARSER = MarkdownIt("commonmark").enable("table")
_DEFINITION = re.compile(
    r"""^ {0,3}\[(?!\^)[^\]\n]+\]:[ \t]*(?:<[^>\n]*>|\S+)(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$"""
)


def read(text: str, stats: Counter) -> list[Block]:
    out = Builder()
    text = _FRONT_MATTER.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    tokens = _PARSER.parse(text)
    lines = text.split("\n")
    # `[label]: https://... "title"` right under a paragraph's line: CommonMark keeps it in the paragraph (a definition cannot
    # interrupt one), so it became text; read again with a blank line above it, it is the definition its author meant
    loose = {
        n
        for t in tokens
        if t.type == "paragraph_open" and t.map
        for n in range(t.map[0] + 1, t.map[1])
        if _DEFINITION.match(lines[n])
    }
    if loose:
        tokens = _PARSER.parse("\n".join("\n" + line if n in loose else line for n, line in enumerate(lines)))
    _blocks(tokens, out)
    return out.blocks


def _inline(token) -> tuple[str, list[str]]:
    parts, code, children = [], [], token.children or []
    for i, child in enumerate(children):
        if child.type == "text":
            content = child.content
            nxt = children[i + 1] if i + 1 < len(children) else None
            role = _ROLE.search(content) if nxt is not None and nxt.type == "code_inline" else None
            if role:  # {ref}`title <target>`: the role's text
                content = content[: role.start()]
                titled = re.fullmatch(r"(.*?)\s*<([^<>]+)>", nxt.content, re.S)
                nxt.meta = {
                    "role": role.group(1).rsplit(":", 1)[-1],
                    "shown": (titled.group(1) or titled.group(2)) if titled else nxt.content.lstrip("~!"),
                }
            parts.append(content)
        elif child.type == "code_inline":
            role = (child.meta or {}).get("role")
            shown = (child.meta or {}).get("shown", child.content)
            parts.append(shown)
            if role is None or role in CODE_ROLES:
                code.append(shown)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
    text = "".join(parts)
    return "\n".join(line for line in text.split("\n") if not _MYST_LINE.match(line.strip())), code


def _links(token) -> list[str]:
    """The text of each link in an inline token."""
    texts, depth = [], 0
    for child in token.children or []:
        if child.type == "link_open":
            depth += 1
            texts.append("")
        elif child.type == "link_close":
            depth -= 1
        elif depth and child.type in ("text", "code_inline"):
            texts[-1] += child.content
    return texts


def _blocks(tokens, out: Builder) -> None:
    i, lists, cited = 0, [], []  # lists: one list of (text, code) items per open list; cited: their link texts
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open":
            out.heading(int(t.tag[1]), _inline(tokens[i + 1])[0])
            i += 3
            continue
        if t.type == "table_open":
            while tokens[i].type != "table_close":
                i += 1
        elif t.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([])
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            items = lists.pop()
            if lists:  # nested: indented lines of the item above
                text, code = lists[-1][-1] if lists[-1] else ("", ())
                lines = "\n".join(f"  - {x}" for x, _ in items)
                if lists[-1]:
                    lists[-1][-1] = (f"{text}\n{lines}", tuple(code) + tuple(c for _, cs in items for c in cs))
            else:
                out.listing(items, cited)
                cited = []
        elif t.type == "list_item_open":
            lists[-1].append(("", ()))
        elif t.type == "inline" and lists:
            text, code = _inline(t)
            cited += _links(t)
            old, old_code = lists[-1][-1]
            lists[-1][-1] = ((f"{old} {' '.join(text.split())}").strip(), tuple(old_code) + tuple(code))
        elif t.type == "inline":
            out.paragraph(*_inline(t), cited=_links(t))
        elif t.type in ("fence", "code_block"):
            _code(t, out, lists)
        elif t.type == "html_block":
            _add(html.read(f"<div>{t.content}</div>", Counter()), out, lists)
        i += 1


def _add(blocks: list[Block], out: Builder, lists) -> None:
    """Blocks another reader made of a part of the page (an HTML block, an {eval-rst} body), under the open headings."""
    for block in blocks:
        if block.kind == "heading":
            out.heading(len(out.path) + 1, block.text)
        elif block.kind == "code":
            out.code(block.code[0])
        elif lists:
            lists[-1].append((block.text, block.code))
        else:
            out.paragraph(block.text, block.code)


def _code(token, out: Builder, lists) -> None:
    info = token.info.strip()
    directive = re.match(r"\{([\w:.-]+)\}", info)
    name = directive.group(1).rsplit(":", 1)[-1] if directive else None
    body = token.content
    if name is not None:
        lines = body.split("\n")
        while lines and re.match(r"^:[\w-]+:", lines[0]):  # directive options
            lines.pop(0)
        body = "\n".join(lines)
        if name in PROSE:
            _blocks(_PARSER.parse(body), out)
            return
        if name == "eval-rst":
            _add(rst.read(body, Counter()), out, lists)
            return
        if name in DROPPED or name.startswith("auto"):  # autofunction, automodule, ...: options, no text
            return
    language = "" if name is not None else info.split(" ")[0]  # ```python keeps its language
    if lists and lists[-1]:
        text, code = lists[-1][-1]
        lists[-1][-1] = (f"{text}\n{fence(body, language)}", tuple(code) + (body.rstrip(),))
    else:
        out.code(body, language)
