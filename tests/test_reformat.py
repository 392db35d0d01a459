import pytest

from cycle_instruct.embedding import load_embedder
from cycle_instruct.engines import HFEngine
from cycle_instruct.params import EMBEDDED_EMBEDDER
from cycle_instruct.prompts import shipped_prompts
from cycle_instruct.records import Record
from cycle_instruct.reformat import clean_rewrite, reformat_records, rewrite_reject_reason

from conftest import shipped_params

PROMPTS = shipped_prompts()
WORDING = {"Q": PROMPTS.preamble("reformat_question"), "A": PROMPTS.preamble("reformat_answer")}
CFG = shipped_params(reformat={"max_length_ratio": 3.0}).reformat


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(EMBEDDED_EMBEDDER)


@pytest.mark.parametrize("raw,clean", [
    ("Here is a rewritten version of the text with the requested changes:\n\nGitHub hosts code.", "GitHub hosts code."),
    ("Sure! Here's the revised question: Why is it?", "Why is it?"),
    ("Question: Why is it?", "Why is it?"),
    ("The text is re-written as:\n\nText:\nSwitchgrass grows fast.", "Switchgrass grows fast."),
    ("The version you need is: 3.11", "The version you need is: 3.11"),
    ("Here is how it works: you push.", "Here is how it works: you push."),
    ("Rewrite the text as:\n_Black_ keeps form feeds.", "_Black_ keeps form feeds."),  # SmolLM2 on Black's docs
    ("Rewrite the text to fit the new formatting:\n\n_Black_ keeps form feeds.", "_Black_ keeps form feeds."),
    ("Rewrite rules: a list of patterns.", "Rewrite rules: a list of patterns."),
])
def test_clean_rewrite_strips_preambles_only(raw, clean):
    assert clean_rewrite(raw) == clean


def test_rewrite_checks():
    assert rewrite_reject_reason("Rewrite the text below as one self-contained question?", "Why?", "instruction", True, CFG, WORDING['Q']) == "echo"
    assert rewrite_reject_reason("Keep every fact, name and term from it. Paris.", "Paris.", "response", True, CFG, WORDING['A']) == "echo"
    assert rewrite_reject_reason("A statement.", "Why?", "instruction", True, CFG, WORDING['Q']) == "not_a_question"
    assert rewrite_reject_reason("Why? " * 100, "Why?", "instruction", True, CFG, WORDING['Q']) == "too_long"
    assert rewrite_reject_reason("Fine text", "Fine", "response", False, CFG, WORDING['A']) == "unfinished"
    assert rewrite_reject_reason("Why though?", "Why?", "instruction", True, CFG, WORDING['Q']) is None


def test_a_question_rewrite_that_drops_its_content_is_rejected():
    source = "I can't get key bindings to work in Tkinter: why?"
    assert rewrite_reject_reason("Why?", source, "instruction", True, CFG, WORDING["Q"]) == "lost_content"
    assert rewrite_reject_reason("Why don't my key bindings work in Tkinter?", source, "instruction", True, CFG, WORDING["Q"]) is None
    assert rewrite_reject_reason("Fine.", source, "response", True, CFG, WORDING["A"]) is None  # answers are judged by meaning only


def test_a_rewrite_must_keep_its_code_blocks_and_add_none():
    source = "To install the packages in that file, run:\n```\npip install -r requirements.txt\n```"
    kept = "To install the packages listed in that file, run:\n```sh\npip install  -r requirements.txt\n```"
    assert rewrite_reject_reason(kept, source, "response", True, CFG, WORDING["A"]) is None  # language tag, spacing
    changed = "To install the packages, run:\n```python\npip install requirements.txt\n```"
    assert rewrite_reject_reason(changed, source, "response", True, CFG, WORDING["A"]) == "changed_code"
    assert rewrite_reject_reason("To install the packages in that file, run pip.", source, "response", True, CFG, WORDING["A"]) == "changed_code"
    invented = "To install them, you can run:\n```python\npip install requirements.txt\n```"
    assert rewrite_reject_reason(invented, "To install the packages listed in that file, you can run:", "response", True, CFG, WORDING["A"]) == "changed_code"


def test_the_leaked_reformat_instruction_is_an_echo():
    leaked = ("Here is the rewritten text: Rewrite the text below as a fluent, coherent response. "
              "Keep every fact, name and term from it. Sphinx builds HTML from reStructuredText.")
    assert rewrite_reject_reason(clean_rewrite(leaked), "Sphinx builds HTML from reStructuredText.", "response", True, CFG, WORDING["A"]) == "echo"


@pytest.mark.parametrize("on_reject,expected_out", [("keep_raw", 2), ("drop", None)])
def test_rejected_rewrites_are_kept_raw_or_dropped_and_counted(tiny_model_dir, embedder, on_reject, expected_out):
    engine = HFEngine(tiny_model_dir)
    records = [Record(id=f"q{i}", original="instruction", instruction=q) for i, q in enumerate(["Why?", "How is it?"])]
    params = shipped_params(generate={"batch_size": 2, "temperature": 0.2}, reformat={"max_new_tokens": 4, "on_reject": on_reject})
    out, stats = reformat_records(engine, records, "instruction", params.reformat, params.generate, PROMPTS, embedder)
    assert stats["in"] == 2 and stats["rewritten"] + stats["rejected"] == 2
    assert stats["kept_raw"] + stats["dropped"] == stats["rejected"]
    assert len(out) == (expected_out if expected_out is not None else 2 - stats["rejected"])
    assert all(r.raw in ("Why?", "How is it?") for r in out)


DOC_QUESTIONS = ["Why are my images too big?", "Why are emoji not displaying correctly on Windows?"]  # docutils' and Black's FAQs
DOC_ANSWERS = [  # Sphinx and Black documentation paragraphs
    "GitHub Pages requires you to publish your sources on GitHub. After that, you will need an automated process that "
    "performs the make html step every time the sources change.",
    "Black is an autoformatter, not a Python linter or interpreter. Detecting all syntax errors is not a goal.",
]


def test_fidelity_thresholds_decide_on_the_embedded_model(embedded_base, embedder):
    engine = HFEngine(embedded_base)
    questions = [Record(id=f"q{i}", original="instruction", instruction=q) for i, q in enumerate(DOC_QUESTIONS)]
    answers = [Record(id=f"a{i}", original="response", response=a) for i, a in enumerate(DOC_ANSWERS)]
    strict = shipped_params(generate={"batch_size": 2}, reformat={"max_new_tokens": 48, "min_similarity": 0.999, "min_content_kept": 1.0})
    lenient = shipped_params(generate={"batch_size": 2}, reformat={"max_new_tokens": 48, "min_similarity": 0.0, "min_content_kept": 0.0})
    q_out, q_stats = reformat_records(engine, questions, "instruction", strict.reformat, strict.generate, PROMPTS, embedder)
    a_out, a_stats = reformat_records(engine, answers, "response", strict.reformat, strict.generate, PROMPTS, embedder)
    # so strict a test lets only verbatim copies through; everything else is kept raw and counted by reason
    assert all(r.original_text == r.raw for r in q_out + a_out) and len(q_out + a_out) == 4
    assert set(q_stats["rejected_by_reason"]) & {"lost_content", "drifted"} and "drifted" in a_stats["rejected_by_reason"]
    _, loose = reformat_records(engine, answers, "response", lenient.reformat, lenient.generate, PROMPTS, embedder)
    assert "drifted" not in loose["rejected_by_reason"] and "lost_content" not in loose["rejected_by_reason"]
