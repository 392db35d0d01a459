import pytest

from cycle_instruct.engines import HFEngine
from cycle_instruct.prompts import shipped_prompts
from cycle_instruct.records import Record
from cycle_instruct.reformat import clean_rewrite, reformat_records, rewrite_reject_reason

from conftest import shipped_params

PROMPTS = shipped_prompts()
WORDING = {"Q": PROMPTS.preamble("reformat_question"), "A": PROMPTS.preamble("reformat_answer")}


@pytest.mark.parametrize("raw,clean", [
    ("Here is a rewritten version of the text with the requested changes:\n\nGitHub hosts code.", "GitHub hosts code."),
    ("Sure! Here's the revised question: Why is it?", "Why is it?"),
    ("Question: Why is it?", "Why is it?"),
    ("The text is re-written as:\n\nText:\nSwitchgrass grows fast.", "Switchgrass grows fast."),
    ("The version you need is: 3.11", "The version you need is: 3.11"),
    ("Here is how it works: you push.", "Here is how it works: you push."),
])
def test_clean_rewrite_strips_preambles_only(raw, clean):
    assert clean_rewrite(raw) == clean


def test_rewrite_checks():
    assert rewrite_reject_reason("Rewrite the text below as one self-contained question?", "Why?", "instruction", True, 3.0, WORDING['Q']) == "echo"
    assert rewrite_reject_reason("Keep every fact, add no new information. Paris.", "Paris.", "response", True, 3.0, WORDING['A']) == "echo"
    assert rewrite_reject_reason("A statement.", "Why?", "instruction", True, 3.0, WORDING['Q']) == "not_a_question"
    assert rewrite_reject_reason("Why? " * 100, "Why?", "instruction", True, 3.0, WORDING['Q']) == "too_long"
    assert rewrite_reject_reason("Fine text", "Fine", "response", False, 3.0, WORDING['A']) == "unfinished"
    assert rewrite_reject_reason("Why though?", "Why?", "instruction", True, 3.0, WORDING['Q']) is None


@pytest.mark.parametrize("on_reject,expected_out", [("keep_raw", 2), ("drop", None)])
def test_rejected_rewrites_are_kept_raw_or_dropped_and_counted(tiny_model_dir, on_reject, expected_out):
    engine = HFEngine(tiny_model_dir)
    records = [Record(id=f"q{i}", original="instruction", instruction=q) for i, q in enumerate(["Why?", "How is it?"])]
    params = shipped_params(generate={"batch_size": 2, "temperature": 0.2}, reformat={"max_new_tokens": 4, "on_reject": on_reject})
    out, stats = reformat_records(engine, records, "instruction", params.reformat, params.generate, PROMPTS)
    assert stats["in"] == 2 and stats["rewritten"] + stats["rejected"] == 2
    assert stats["kept_raw"] + stats["dropped"] == stats["rejected"]
    assert len(out) == (expected_out if expected_out is not None else 2 - stats["rejected"])
    assert all(r.raw in ("Why?", "How is it?") for r in out)
