"""Fidelity checks with the real embedder on real text: a rewrite must keep its source's meaning
and content words; a pseudo-question must fit its own answer better than unrelated answers."""

import re

import pytest

from cycle_instruct.embedding import load_embedder
from cycle_instruct.fidelity import MIN_OTHERS, content_kept, similarities, specificity
from cycle_instruct.params import EMBEDDED_EMBEDDER
from cycle_instruct.records import Record
from cycle_instruct.steps.relabel import drop_generic

from conftest import ROOT, shipped_params

PARAMS = shipped_params()

# Real documentation paragraphs (Sphinx's and docutils' docs) with rewrites by the embedded
# SmolLM2-135M: faithful ones, and ones that invented or lost content (read and judged by hand).
SPHINX_ONLY = (
    "Include the content of the directive only if the expression is true. The expression should consist of tags, "
    "like this: .. only:: html and draft"
)
FAITHFUL = [
    (SPHINX_ONLY, "The directive's content is included only when its expression, made of tags such as html and draft, is true."),
    ("How can I get a new feature into Docutils?", "How do I get a new feature added to Docutils?"),
    ("I can't get key bindings to work in Tkinter: why?", "Why don't my key bindings work in Tkinter?"),
]
DRIFTED = [  # the `.. only:: html` directive became a story about a new employee
    (
        ".. only:: html",
        "Sarah had just started her new job at the company. On her first day, her manager showed her around the office "
        "and introduced her to the team.",
    ),
    (SPHINX_ONLY, "Welcome to our team! We are glad to have you with us and hope you enjoy your first week."),
]


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(EMBEDDED_EMBEDDER)


def demo_pairs() -> list[tuple[str, str]]:
    """The demo corpus (data/raw, Dolly questions and their answers): question and answer paragraphs alternate."""
    pairs = []
    for path in sorted((ROOT / "data" / "raw").glob("*.txt")):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", path.read_text()) if p.strip()]
        pairs += [(q, a) for q, a in zip(paragraphs[::2], paragraphs[1::2]) if "?" in q and "?" not in a]
    return pairs


def test_a_faithful_rewrite_passes_and_an_invented_one_drifts(embedder):
    threshold = PARAMS.reformat.min_similarity
    faithful = similarities(embedder, [r for _, r in FAITHFUL], [s for s, _ in FAITHFUL])
    drifted = similarities(embedder, [r for _, r in DRIFTED], [s for s, _ in DRIFTED])
    assert all(faithful >= threshold), faithful
    assert all(drifted < threshold), drifted


def test_a_question_that_lost_its_content_words():
    threshold = PARAMS.reformat.min_content_kept
    source = "I can't get key bindings to work in Tkinter: why?"
    assert content_kept("Why?", source) < threshold
    assert content_kept("Why don't my key bindings work in Tkinter?", source) >= threshold  # 'bindings' = 'binding'
    assert content_kept("What is Tkinter?", source) < threshold
    assert content_kept("Why?", "Why?") == 1.0  # nothing to lose


GENERIC = [
    "Can you explain this?",
    "What is this about?",
    "Tell me more.",
    "Can you help me with this?",
    "What do you think?",
    "Summarize this.",
]


def test_generic_questions_fit_any_answer_and_are_told_apart(embedder):
    pairs = demo_pairs()
    assert len(pairs) >= 40
    questions, answers = [q for q, _ in pairs], [a for _, a in pairs]
    generic_at = list(range(0, 6 * len(GENERIC), 6))  # put each generic question in place of a real one
    for i, q in zip(generic_at, GENERIC):
        questions[i] = q
    scores = specificity(embedder, questions, answers)
    threshold = PARAMS.generate.min_specificity
    assert all(scores[i] < threshold for i in generic_at), [round(float(scores[i]), 3) for i in generic_at]
    real = [float(s) for i, s in enumerate(scores) if i not in generic_at]
    assert min(real) >= threshold, sorted(real)[:3]


def test_too_few_answers_to_tell_skip_the_test(embedder):
    pairs = demo_pairs()[: MIN_OTHERS + 1]
    assert specificity(embedder, [q for q, _ in pairs[:-1]], [a for _, a in pairs[:-1]]) is None
    assert len(specificity(embedder, [q for q, _ in pairs], [a for _, a in pairs])) == MIN_OTHERS + 1


def test_relabel_drops_generic_pseudo_questions_and_counts_them(embedder):
    pairs = demo_pairs()[:30]
    records = [
        Record(id=f"a{i}", original="response", response=a, instruction=GENERIC[i % len(GENERIC)] if i < 3 else q)
        for i, (q, a) in enumerate(pairs)
    ]
    records.append(
        Record(id="q0", original="instruction", instruction="Why is the sky blue?", response="Tell me more.")
    )  # a pseudo-answer: not tested
    stats = {"in": 31, "out": 31, "rejected": 2, "rejected_by_reason": {"echo": 2}}
    kept, stats = drop_generic(records, stats, embedder, PARAMS.generate.min_specificity)
    assert [r.id for r in records if r not in kept] == ["a0", "a1", "a2"]
    assert stats["rejected_by_reason"] == {"echo": 2, "generic": 3} and stats["rejected"] == 5 and stats["out"] == 28
    assert stats["specificity_tested"] == 30
