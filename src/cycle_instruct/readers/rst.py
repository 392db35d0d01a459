"""reStructuredText via docutils: parse to a doctree, then walk it.

Nothing of docutils' own output reaches the text: no warnings or system messages (report
level 5), no file insertion, no raw passthrough. Sphinx roles (:func:`x`, :ref:`title <t>`)
render as their text, Sphinx's code-block as code, its prose directives (versionadded,
seealso, ...) as their content; every other unknown directive (toctree, only, autofunction,
...) is dropped with its content, as are comments, tables of contents, substitution
definitions, targets, images, tables and footnotes. Section numbers (sectnum) are not added.
"""

import io
import re
from collections import Counter

from docutils import nodes, utils
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles
from docutils.parsers.rst.directives.body import CodeBlock
from docutils.parsers.rst.languages import en

from .blocks import CODE_ROLES, Block, Builder, asks, fence

SETTINGS = {
    "report_level": 5,
    "halt_level": 5,
    "traceback": True,  # nothing printed, nothing exits: errors raise
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "sectsubtitle_xform": False,
    "doctitle_xform": True,
    "sectnum_xform": False,
    "syntax_highlight": "none",
    "smart_quotes": False,
    "pep_references": False,
    "rfc_references": False,
}
PROSE_DIRECTIVES = (
    "seealso",
    "versionadded",
    "versionchanged",
    "versionremoved",
    "deprecated",
    "glossary",
    "hlist",
    "centered",
    "tab",
    "tabs",
)
SKIP = (
    nodes.comment,
    nodes.substitution_definition,
    nodes.target,
    nodes.system_message,
    nodes.raw,
    nodes.docinfo,
    nodes.image,
    nodes.figure,
    nodes.table,
    nodes.footnote,
    nodes.citation,
    nodes.pending,
    nodes.decoration,
    nodes.transition,
    nodes.meta,
    nodes.rubric,
    nodes.title,
    nodes.subtitle,
)
INLINE_SKIP = (nodes.footnote_reference, nodes.citation_reference, nodes.target, nodes.image, nodes.system_message, nodes.raw)
_ROLE = re.compile(r":((?:[A-Za-z][\w+.-]*:)*[A-Za-z][\w+.-]*):`")
_STANDARD_ROLES = set(en.roles) | set(en.roles.values())


def _text_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """Any Sphinx role as its text: `title <target>` shows the title, `~a.b.c` shows c."""
    text = utils.unescape(text)
    titled = re.fullmatch(r"(.*?)\s*<([^<>]+)>", text, re.S)
    shown = (titled.group(1) or titled.group(2)) if titled else text
    if shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]
    shown = shown.lstrip("!")
    kind = name.rsplit(":", 1)[-1]
    return [nodes.literal(rawtext, shown) if kind in CODE_ROLES else nodes.inline(rawtext, shown)], []


class _Prose(Directive):
    """A Sphinx directive whose body is prose (seealso, versionadded, ...): keep the body.

    versionadded and the like take a version first; the text after it is prose too.
    """

    optional_arguments, final_argument_whitespace, has_content = 2, True, True

    def run(self):
        node = nodes.container()
        words = self.arguments if self.name == "seealso" else self.arguments[1:]
        if words:
            text, _ = self.state.inline_text(" ".join(words), self.lineno)
            node += nodes.paragraph("", "", *text)
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


for _name in ("code-block", "sourcecode"):
    directives.register_directive(_name, CodeBlock)
for _name in PROSE_DIRECTIVES:
    directives.register_directive(_name, _Prose)


def read(text: str, stats: Counter) -> list[Block]:
    for name in set(_ROLE.findall(text)):
        if name.lower() not in _STANDARD_ROLES:
            roles.register_local_role(name.lower(), _text_role)
    tree = publish_doctree(text, settings_overrides={**SETTINGS, "warning_stream": io.StringIO()})
    out = Builder()
    if tree.children and isinstance(tree.children[0], nodes.title):  # the document title (its fields: docinfo)
        out.heading(1, _inline(tree.children[0])[0])
    _walk(tree, out, len(out.path))
    return out.blocks


def _inline(node) -> tuple[str, list[str]]:
    """Its text (footnote references, targets and the like left out) and its literal spans."""
    if isinstance(node, nodes.Text):
        return str(node), []
    if isinstance(node, INLINE_SKIP):
        return "", []
    parts = [_inline(child) for child in node.children]
    text = "".join(p[0] for p in parts)
    code = [c for p in parts for c in p[1]]
    return text, ([node.astext()] if isinstance(node, (nodes.literal, nodes.literal_block, nodes.doctest_block)) else code)


def _links(node) -> list[str]:
    return [r.astext() for r in node.findall(nodes.reference)]


def _items(node) -> list[tuple[str, tuple[str, ...]]]:
    """A list's items (definition and field lists: 'term: definition'), nested lists indented."""
    items = []
    for item in getattr(node, "children", node):
        lines, code = [], []
        for part in item.children:
            if isinstance(part, (nodes.bullet_list, nodes.enumerated_list, nodes.definition_list, nodes.field_list)):
                sub = _items(part)
                lines += [f"  - {t}" for t, _ in sub]
                code += [c for _, cs in sub for c in cs]
            elif isinstance(part, (nodes.literal_block, nodes.doctest_block)):
                lines.append(fence(part.astext()))
                code.append(part.astext())
            elif isinstance(part, (nodes.term, nodes.field_name)):
                t, c = _inline(part)
                lines.append(" ".join(t.split()) + ":")
                code += c
            elif isinstance(part, (nodes.definition, nodes.field_body)):
                for p in part.children:
                    t, c = _inline(p) if not isinstance(p, SKIP) else ("", [])
                    lines.append(" ".join(t.split()))
                    code += c
            elif not isinstance(part, SKIP):
                t, c = _inline(part)
                lines.append(" ".join(t.split()))
                code += c
        text = " ".join(line for line in lines if line and not line.startswith("  - ") and "\n" not in line)
        rest = [line for line in lines if line.startswith("  - ") or "\n" in line]
        items.append(("\n".join([text, *rest]).strip(), tuple(code)))
    return items


def _walk(node, out: Builder, depth: int) -> None:
    for child in node.children:
        if isinstance(child, SKIP) or isinstance(child, nodes.topic) and "contents" in child["classes"]:
            continue
        if isinstance(child, nodes.section):
            title = child.children[0] if child.children and isinstance(child.children[0], nodes.title) else None
            out.heading(depth + 1, _inline(title)[0] if title is not None else "")
            _walk(child, out, depth + 1)
        elif isinstance(child, nodes.paragraph):
            out.paragraph(*_inline(child), cited=_links(child))
        elif isinstance(child, (nodes.literal_block, nodes.doctest_block)):
            out.code(child.astext())
        elif isinstance(child, nodes.definition_list) and any(asks(_term(item)[0]) for item in child.children):
            _question_terms(child, out, depth)
        elif isinstance(
            child, (nodes.bullet_list, nodes.enumerated_list, nodes.definition_list, nodes.field_list, nodes.option_list)
        ):
            out.listing(_items(child), cited=_links(child))
        elif isinstance(child, nodes.line_block):
            out.paragraph(child.astext())
        elif isinstance(child, nodes.Element):  # block quotes, admonitions, topics, containers, compounds
            _walk(child, out, depth)


def _term(item) -> tuple[str, list[str]]:
    terms = [part for part in item.children if isinstance(part, nodes.term)]
    return _inline(terms[0]) if terms else ("", [])


def _question_terms(node, out: Builder, depth: int) -> None:
    """A definition list whose terms ask questions (an FAQ as a list): each such term is a
    question block, its definition read as the paragraphs it holds; the other items stay a list."""
    rest = []
    for item in node.children:
        term, code = _term(item)
        if not asks(term):
            rest.append(item)
            continue
        if rest:
            out.listing(_items(rest), cited=[r.astext() for i in rest for r in i.findall(nodes.reference)])
            rest = []
        out.question_term(term, code)
        for definition in (part for part in item.children if isinstance(part, nodes.definition)):
            _walk(definition, out, depth)
    if rest:
        out.listing(_items(rest), cited=[r.astext() for i in rest for r in i.findall(nodes.reference)])
