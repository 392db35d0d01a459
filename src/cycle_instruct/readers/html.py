"""HTML via lxml: the page's main content, walked block by block.

Documentation pages are built by a known tool, so a readability-style extractor is not
needed: the main content is <main>, [role=main], <article> or Sphinx's div.body (else <body>),
and what surrounds text on a docs page (scripts, styles, navigation, headers, footers,
sidebars, forms, tables of contents, the '¶' heading links, footnote marks) is dropped.
"""

import re
from collections import Counter

from lxml import html as lxml_html

from .blocks import Block, Builder, asks, reflow

DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "table",
    "img",
    "svg",
    "iframe",
    "object",
    "head",
    "title",
    "meta",
    "link",
)
DROP_CLASSES = (
    "headerlink",
    "toc-backref",
    "footnote-reference",
    "citation-reference",
    "sphinxsidebar",
    "related",
    "contents",
    "docinfo",
    "system-message",
    "footnote",
    "citation",
    "toctree-wrapper",
    "rubric",
)
MAIN = ("//main", '//*[@role="main"]', "//article", '//div[contains(concat(" ", @class, " "), " body ")]', "//body")
BLOCKS = {
    "p",
    "pre",
    "ul",
    "ol",
    "dl",
    "div",
    "section",
    "article",
    "main",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figure",
    "details",
    "summary",
    "center",
    "hr",
    "address",
    "fieldset",
    "li",
    "dt",
    "dd",
    "body",
    "html",
}
CODE = ("code", "tt", "kbd", "samp", "var", "pre")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_INTERNAL_SUBSET = re.compile(
    r"^\s*<!DOCTYPE[^\[>]*\[(?:\"[^\"]*\"|'[^']*'|[^\]\"'])*\]\s*>", re.I
)  # <!DOCTYPE html [ <!ENTITY ...> ]>
_DROP_XPATH = " | ".join(
    [f"//{tag}" for tag in DROP]
    + [f'//*[contains(concat(" ", normalize-space(@class), " "), " {c} ")]' for c in DROP_CLASSES]
    + ['//*[@role="navigation"]', "//comment()", "//processing-instruction()"]
)


def read(text: str, stats: Counter) -> list[Block]:
    text = _DECLARATION.sub("", text)  # lxml refuses a str that declares an encoding
    text = _INTERNAL_SUBSET.sub("", text)  # lxml ends the DOCTYPE at its first '>' and left ']>' as a paragraph
    if not text.strip():
        return []
    root = lxml_html.document_fromstring(text)
    for element in root.xpath(_DROP_XPATH):
        if element.getparent() is not None:
            element.drop_tree()  # keeps the text after it
    main = next((found[0] for path in MAIN if (found := root.xpath(path))), root)
    out = Builder()
    walk(main, out)
    return out.blocks


def _inline(element) -> tuple[str, list[str]]:
    return element.text_content(), [c.text_content() for c in element.iter(*CODE)]


def _items(element) -> list[tuple[str, tuple[str, ...]]]:
    items = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        nested = [n for n in child if isinstance(n.tag, str) and n.tag in ("ul", "ol", "dl")]
        for n in nested:
            n.drop_tree()
        text, code = _inline(child)
        lines = [reflow(text) + (":" if child.tag == "dt" else "")]
        for n in nested:
            sub = _items(n)
            lines += [f"  - {t}" for t, _ in sub]
            code += [c for _, cs in sub for c in cs]
        items.append(("\n".join(lines), tuple(code)))
    merged = []  # <dt>term</dt><dd>definition</dd>: one item
    for text, code in items:
        if merged and merged[-1][0].endswith(":") and "\n" not in merged[-1][0]:
            merged[-1] = (f"{merged[-1][0]} {text}", merged[-1][1] + code)
        else:
            merged.append((text, code))
    return merged


def _question_terms(element, out: Builder) -> None:
    """A <dl> whose terms ask questions (an FAQ as a list): each such <dt> is a question block and
    its <dd> is read as the paragraphs it holds; the other terms stay a list."""
    rest, answering = [], False
    for child in element.iterchildren("dt", "dd"):
        if child.tag == "dt":
            answering = asks(child.text_content())
            if answering:
                if rest:
                    out.listing(_items(rest))
                    rest = []
                out.question_term(*_inline(child))
                continue
        if answering:
            walk(child, out)
        else:
            rest.append(child)
    if rest:
        out.listing(_items(rest))


def walk(element, out: Builder) -> None:
    """Block children become blocks; loose text and inline elements between them, paragraphs."""
    loose, loose_code, loose_cited = [element.text or ""], [], []

    def flush():
        out.paragraph("".join(loose), loose_code, loose_cited)
        loose.clear()
        loose_code.clear()
        loose_cited.clear()

    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag not in BLOCKS:
            text, code = _inline(child) if tag else ("", [])
            loose.append(text + (child.tail or ""))
            loose_code.extend(code)
            if tag:
                loose_cited.extend(a.text_content() for a in child.iter("a"))
            continue
        flush()
        if re.fullmatch(r"h[1-6]", tag):
            out.heading(int(tag[1]), child.text_content())
        elif tag == "p":
            out.paragraph(*_inline(child), cited=[a.text_content() for a in child.iter("a")])
        elif tag == "pre":
            out.code(child.text_content())
        elif tag == "dl" and any(asks(dt.text_content()) for dt in child.iterchildren("dt")):
            _question_terms(child, out)
        elif tag in ("ul", "ol", "dl"):
            cited = [a.text_content() for a in child.iter("a")]
            out.listing(_items(child), cited=cited)
        elif tag != "hr":
            walk(child, out)
        loose.append(child.tail or "")
    flush()
