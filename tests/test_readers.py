"""Markup-aware reading on real documentation files (tests/data/docs, see SOURCE.md): no markup in any
segment, headings are structure (unless questions), code stays with the paragraph that introduces it."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from cycle_instruct import readers
from cycle_instruct.errors import UserError
from cycle_instruct.fidelity import without_code
from cycle_instruct.segment import build_records
from cycle_instruct.sources import load_corpus

from conftest import shipped_params

DOCS = Path(__file__).parent / "data" / "docs"
MARKUP = {  # what a user would spot as unrendered markup, by format
    "rst": [r"^[=\-~^*#+`]{3,}$", r"::$", r":[\w:.+-]+:`", r"``", r"^\.\. ", r"`_", r"\|\w+\|", r"^:\w+:"],
    "markdown": [r"^#{1,6} ", r"\*\*\w", r"\]\(", r"!\[", r"</?\w+[ >]", r"\{\w+\}`", r"^```"],
    "html": [r"</\w+>", r"<\w+\s+[\w-]+=", r"¶", r"&\w+;"],  # the page's prose may name a tag: "HTML <a> tags"
}


def blocks(path: Path):
    return readers.read(readers.markup_of(path.suffix), path.read_text(encoding="utf-8"), str(path), Counter())


def prose(block) -> str:
    """The block's text without its code (code may show markup: it is an example)."""
    text = without_code(block.text)  # code blocks, fenced by the reader
    for code in sorted(block.code, key=len, reverse=True):
        text = re.sub(r"\s+".join(map(re.escape, code.split())), " ", text)
    return text


def corpus(tmp_path, **changes):
    cfg = shipped_params(segment={"input": str(DOCS), "include": FILES, **changes}).segment
    loaded = load_corpus(cfg)
    answers = sum(item.side == "response" for item in loaded.items)
    q, a, _ = build_records(loaded.items, cfg, loaded.stats)
    return q, a, Counter(loaded.stats, answer_items=answers)


FILES = ["*/*.rst", "*/*.md", "*/*.html"]  # not SOURCE.md


@pytest.mark.parametrize("path", sorted(p for pattern in FILES for p in DOCS.glob(pattern)), ids=lambda p: p.name)
def test_no_markup_left_in_any_segment(path):
    found = blocks(path)
    assert len([b for b in found if b.kind == "paragraph"]) >= 5
    patterns = MARKUP[readers.markup_of(path.suffix)]
    leaks = [(p, b.text[:120]) for b in found for p in patterns if re.search(p, prose(b), re.M)]
    assert leaks == []


def test_rst_directives_comments_and_tables_of_contents_are_removed_and_roles_rendered():
    text = (DOCS / "docutils" / "FAQ.rst").read_text(encoding="utf-8")
    assert ".. contents::" in text and ".. NOTE TO MAINTAINERS" in text and ":PEP:`258`" in text
    every = "\n".join(b.text for b in blocks(DOCS / "docutils" / "FAQ.rst"))
    assert "NOTE TO MAINTAINERS" not in every and "$Revision" not in every  # a comment, the docinfo fields
    assert 'see PEP 258, "Docutils Design Specification"' in every
    sphinx = blocks(DOCS / "sphinx" / "faq.rst")
    assert ":numbered:" in " ".join(c for b in sphinx for c in b.code)  # ``:numbered:`` rendered as a literal
    assert not any(".. only::" in b.text or ".. toctree::" in prose(b) for b in sphinx)  # an example in a code block is code


def test_an_faq_written_as_a_definition_list_gives_its_terms_as_questions():
    """The Sphinx FAQ asks its questions as definition-list terms under "How do I...": each term is
    a question of its own, with the heading's stem, and its definition the answer that follows."""
    found = blocks(DOCS / "sphinx" / "faq.rst")
    terms = [b.text for b in found if b.kind == "term"]
    assert terms[:2] == ["How do I create PDF files without LaTeX?", "How do I get section numbers?"] and len(terms) == 7
    after = found[[b.text for b in found].index(terms[1]) + 1]
    assert after.kind == "paragraph" and after.text.startswith("They are automatic in LaTeX output")
    tools = next(b for b in found if "Read the Docs:" in b.text)  # a definition list of names, not questions: one list
    assert tools.kind == "paragraph" and tools.text.startswith("- Read the Docs:")
    page = (
        "<main><h2>Why...</h2><dl><dt>... is it slow?</dt><dd><p>It compiles.</p><pre>make -j4</pre></dd>"
        "<dt>Epydoc</dt><dd>An extension.</dd></dl></main>"
    )
    html = readers.read("html", page, "faq.html", Counter())
    assert [(b.kind, b.text) for b in html] == [
        ("heading", "Why..."),
        ("term", "Why is it slow?"),
        ("paragraph", "It compiles.\n```\nmake -j4\n```"),
        ("paragraph", "- Epydoc: An extension."),
    ]


def test_sphinx_roles_directives_and_docutils_comments_in_a_small_document():
    doc = """:tocdepth: 2

.. contents::

Title
=====

.. XXX review this before the release?

.. |name| replace:: Docutils

Call :func:`os.path.join` or :meth:`~pathlib.Path.open`, see :ref:`the intro <intro>` and |name|.

.. only:: html

   Only in HTML output?

.. versionadded:: 1.2
   Kept: the body of a prose directive.

Run this::

    x = input("name?")

Why is ``x`` empty?
-------------------

Because nothing was typed.
"""
    found = readers.read("rst", doc, "doc.rst", Counter())
    assert [(b.kind, b.text) for b in found] == [
        ("heading", "Title"),
        ("paragraph", "Call os.path.join or open, see the intro and Docutils."),
        ("paragraph", "Kept: the body of a prose directive."),
        ("paragraph", 'Run this:\n```\nx = input("name?")\n```'),
        ("heading", "Why is x empty?"),
        ("paragraph", "Because nothing was typed."),
    ]
    assert found[-1].section == ("Title", "Why is x empty?")


def test_code_block_stays_with_the_paragraph_that_introduces_it():
    faq = {b.text.split("\n")[0]: b for b in blocks(DOCS / "docutils" / "FAQ.rst")}
    title = next(b for t, b in faq.items() if t.endswith("becomes the document subtitle. For example:"))
    assert title.text.endswith(
        "This is the Document Title\n==========================\n\nThis is the Document Subtitle\n"
        "-----------------------------\n\nHere's an ordinary paragraph.\n```"
    )
    md = readers.read("markdown", "Install it:\n\n```sh\npip install x\n```\n\n# Next\n\n```\nalone\n```\n", "a.md", Counter())
    assert [(b.kind, b.text) for b in md] == [
        ("paragraph", "Install it:\n```sh\npip install x\n```"),
        ("heading", "Next"),
        ("code", "```\nalone\n```"),
    ]


def test_markdown_myst_roles_html_blocks_and_lists_become_text():
    started = blocks(DOCS / "pip" / "getting-started.md")
    text = "\n".join(b.text for b in started)
    assert "please read the installation page" in text and "{doc}" not in text
    guidance = blocks(DOCS / "pip" / "guidance.md")
    survey = next(b for b in guidance if "Introduce your survey" in b.text)  # from an <ol> HTML block
    assert survey.kind == "paragraph" and "<li>" not in survey.text
    opening = next(b for b in guidance if b.text.startswith("- Can you tell me a bit about how you use Python?"))
    assert opening.text == "- Can you tell me a bit about how you use Python?\n- How long have you been using pip?"


def test_html_main_content_without_page_furniture():
    found = blocks(DOCS / "docutils" / "pep-0287.html")
    headings = [b.text for b in found if b.kind == "heading"]
    assert headings[:3] == ["Abstract", "Benefits", "Goals"] and "Questions & Answers" in headings
    assert all(b.section == ("Questions & Answers",) for b in found if b.text.startswith("- Is reStructuredText rich enough?"))
    page = readers.read(
        "html",
        "<html><head><title>T</title><script>var a = 'x?';</script></head><body><nav>Home?</nav>"
        "<main><h1>How do I X?<a class='headerlink'>¶</a></h1><p>Call <code>f(a?)</code>.</p><pre>f(1)</pre></main>"
        "<footer>Copyright?</footer></body></html>",
        "p.html",
        Counter(),
    )
    assert [(b.kind, b.text) for b in page] == [("heading", "How do I X?"), ("paragraph", "Call f(a?).\n```\nf(1)\n```")]


def test_segment_stage_on_the_docs_folder_headings_are_structure_question_headings_are_questions(tmp_path):
    q, a, stats = corpus(tmp_path)
    assert stats["files"] == 5 and stats["headings"] > 20
    questions = [r.instruction for r in q]
    assert "What is Docutils?" in questions and "How many interviews is enough?" in questions
    assert "Docutils" not in [r.response for r in a] and "Getting Started" not in [r.response for r in a]
    first = next(r for r in a if r.response.startswith("Docutils is a system for processing"))
    assert first.source["section"] == ["Docutils FAQ (Frequently Asked Questions)", "Docutils", "What is Docutils?"]
    rejected = {k.removeprefix("question_rule_rejected_"): v for k, v in stats.items() if k.startswith("question_rule_rejected_")}
    assert rejected["mark_in_code"] >= 4 and rejected["mark_in_quotation"] >= 4
    assert sum(rejected.values()) == stats["answer_items"]  # every answer paragraph is counted under one reason
    paper_q, _, _ = corpus(tmp_path, question_rule="contains")
    assert len(paper_q) > len(q)


def test_markup_of_jsonl_text_fields_follows_segment_markup(tmp_path):
    doc = "What is it?\n===========\n\nA tool. See :func:`run`.\n\n.. contents::\n"
    (tmp_path / "d.jsonl").write_text(json.dumps({"text": doc}) + "\n")
    cfg = shipped_params(segment={"input": str(tmp_path / "d.jsonl"), "markup": "rst"}).segment
    items = load_corpus(cfg).items
    assert [(i.side, i.text) for i in items] == [("instruction", "What is it?"), ("response", "A tool. See run.")]
    plain = load_corpus(shipped_params(segment={"input": str(tmp_path / "d.jsonl")}).segment).items
    assert plain[0].text == "What is it?\n==========="  # markup: none keeps today's plain-text reading


def test_a_document_its_parser_cannot_read_is_one_line_naming_it_or_a_counted_skip(tmp_path):
    nested = "\n".join(" " * i + "- a" for i in range(0, 1200, 2))  # 600 nested lists: deeper than docutils can recurse
    (tmp_path / "deep.rst").write_text(nested + "\n\nWhy?\n\nBecause.\n")
    with pytest.raises(
        UserError,
        match=r"deep\.rst: cannot read it as reStructuredText \(maximum recursion depth exceeded\); fix the document, or set segment.on_bad_record: skip",
    ) as e:
        load_corpus(shipped_params(segment={"input": str(tmp_path)}).segment)
    assert "\n" not in str(e.value)
    (tmp_path / "ok.md").write_text("# Why?\n\nBecause.\n")
    skipped = load_corpus(shipped_params(segment={"input": str(tmp_path), "on_bad_record": "skip"}).segment)
    assert skipped.stats["skipped_unparsable_documents"] == 1 and [i.text for i in skipped.items] == ["Why?", "Because."]


def test_myst_directives_the_reader_does_not_know_keep_their_body_as_code():
    """pip's docs show shell sessions in its own ```{pip-cli} directive: dropped, the paragraph that introduces one
    ('by running the following commands') pointed at nothing. Unknown directives are code; known non-text ones go."""
    started = blocks(DOCS / "pip" / "getting-started.md")
    check = next(b for b in started if b.text.startswith("As a first step, you should check"))
    assert check.text.endswith(
        "similar.\n```\n$ python --version\nPython 3.N.N\n$ pip --version\npip X.Y.Z from ... (python 3.N.N)\n```"
    )
    assert check.code[-1].startswith("$ python --version")
    upgrade = next(b for b in started if "pip install --upgrade sampleproject" in b.text)
    assert upgrade.kind == "code" and upgrade.section == ("Getting Started", "Common tasks", "Upgrade a package")
    md = readers.read(
        "markdown",
        "Intro:\n\n```{toctree}\n:maxdepth: 2\n\nusage\n```\n\n```{tab-item} Unix\nRun it.\n```\n\n"
        "```{eval-rst}\n.. note:: Read *this* first.\n```\n\n```{mermaid}\ngraph TD; A-->B?\n```\n",
        "d.md",
        Counter(),
    )
    assert [(b.kind, b.text) for b in md] == [
        ("paragraph", "Intro:"),
        ("paragraph", "Run it."),
        ("paragraph", "Read this first.\n```\ngraph TD; A-->B?\n```"),
    ]


def test_numbered_faq_questions_lose_their_outline_number_to_the_source(tmp_path):
    """The zsh FAQ numbers its questions ('3.4: How do I ...?'): left in, M_AQ learns to write numbers."""
    cfg = shipped_params(segment={"input": str(DOCS / "zsh")}).segment
    loaded = load_corpus(cfg)
    stats = Counter()
    q, a, _ = build_records(loaded.items, cfg, stats)
    assert [(r.instruction, r.source.get("number")) for r in q] == [
        ("What is the difference between `export' and the ALL_EXPORT option?", "3.3"),
        ("How do I turn off spelling correction/globbing for a single command?", "3.4"),
        ("How do I get a variable's value to be evaluated as another variable?", "3.22"),
        (
            "The problem is that you have a variable $E containing the string EDITOR, and a variable $EDITOR containing "
            "the string emacs, or something such. How do you get from $E to emacs in one easy stage?",
            None,
        ),
    ]
    assert stats["outline_numbers_removed"] == 3 and all("number" not in r.source for r in a)
    answer = next(r for r in a if r.response.startswith("In the first case, you presumably have"))
    assert answer.source["section"][-1] == "3.4: How do I turn off spelling correction/globbing for a single command?"
