import json
from itertools import pairwise

import pytest

from cycle_instruct.embedding import load_embedder
from cycle_instruct.engines import HFEngine
from cycle_instruct.params import EMBEDDED_EMBEDDER
from cycle_instruct.prompts import shipped_prompts
from cycle_instruct.records import Record, read_records, write_records
from cycle_instruct.reformat import clean_rewrite, reformat_records, rewrite_reject_reason

from conftest import CHATML, ROOT, options, run_stage, shipped_params, write_params

pytestmark = pytest.mark.slow  # the reformat stage on real models: not in make unit

PROMPTS = shipped_prompts()
WORDING = {"Q": PROMPTS.preamble("reformat_question"), "A": PROMPTS.preamble("reformat_answer")}
CFG = shipped_params(reformat={"max_length_ratio": 3.0}).reformat
RULE = shipped_params().segment.question_rule


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(EMBEDDED_EMBEDDER)


def parrot(folder, reply: str):
    """A real (transformers) model that answers every prompt with `reply`, so that a test knows what
    reformat gets back. One layer whose attention and MLP add nothing: the next token is read off
    the last one, along the chain "\\n" (the end of every prompt) -> reply's tokens -> end of turn."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(
        [reply] * 50,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "<|im_start|>", "<|im_end|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|im_end|>")
    tokenizer.chat_template = CHATML
    prompt_end = tokenizer(
        tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True)
    )["input_ids"][-1]
    chain = [prompt_end, *tokenizer(reply)["input_ids"], tokenizer.eos_token_id]
    assert len(set(chain)) == len(chain), f"a token repeats in {reply!r}: pick a reply without"
    n = len(tokenizer)
    hidden = n + n % 2  # rotary embeddings need an even size
    config = LlamaConfig(
        vocab_size=n,
        hidden_size=hidden,
        intermediate_size=8,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for weight in model.parameters():
            weight.zero_()
        model.model.norm.weight.fill_(1)
        model.model.embed_tokens.weight.copy_(torch.eye(n, hidden))  # token i -> unit vector i
        model.lm_head.weight[tokenizer.eos_token_id] = 1  # off the chain: end the turn
        for token, following in pairwise(chain):
            model.lm_head.weight[:, token] = 0
            model.lm_head.weight[following, token] = 10
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def run_reformat(tmp_path, base, overrides: dict, questions: list[str], answers: list[str]):
    """The reformat stage as dvc runs it: (its result, metrics, question records out, answer records out)."""
    write_params(tmp_path, {"generate": {"engine": "hf"}, **overrides})
    write_records(
        tmp_path / "q.jsonl", [Record(id=f"q{i}", original="instruction", instruction=t) for i, t in enumerate(questions)]
    )
    write_records(tmp_path / "a.jsonl", [Record(id=f"a{i}", original="response", response=t) for i, t in enumerate(answers)])
    prompts = [arg for side in ("answer", "question") for arg in ("--prompts", str(ROOT / "prompts" / f"reformat_{side}.txt"))]
    ins = options(base=base, questions_in="q.jsonl", answers_in="a.jsonl")
    outs = options(questions_out="out/q.jsonl", answers_out="out/a.jsonl")
    result = run_stage("reformat.py", *ins, *outs, *prompts, "--metrics", "out/m.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return (
        result,
        json.loads((tmp_path / "out/m.json").read_text()),
        read_records(tmp_path / "out/q.jsonl"),
        read_records(tmp_path / "out/a.jsonl"),
    )


@pytest.mark.parametrize(
    "raw,clean",
    [
        ("Here is a rewritten version of the text with the requested changes:\n\nGitHub hosts code.", "GitHub hosts code."),
        ("Sure! Here's the revised question: Why is it?", "Why is it?"),
        ("Question: Why is it?", "Why is it?"),
        ("The text is re-written as:\n\nText:\nSwitchgrass grows fast.", "Switchgrass grows fast."),
        ("The version you need is: 3.11", "The version you need is: 3.11"),
        ("Here is how it works: you push.", "Here is how it works: you push."),
        ("Rewrite the text as:\n_Black_ keeps form feeds.", "_Black_ keeps form feeds."),  # SmolLM2 on Black's docs
        ("Rewrite the text to fit the new formatting:\n\n_Black_ keeps form feeds.", "_Black_ keeps form feeds."),
        ("Rewrite rules: a list of patterns.", "Rewrite rules: a list of patterns."),
    ],
)
def test_clean_rewrite_strips_preambles_only(raw, clean):
    assert clean_rewrite(raw) == clean


def test_rewrite_checks():
    assert (
        rewrite_reject_reason(
            "Rewrite the text below as one self-contained question?", "Why?", "instruction", True, CFG, WORDING["Q"], RULE
        )
        == "echo"
    )
    assert (
        rewrite_reject_reason(
            "Keep every fact, name and term from it. Paris.", "Paris.", "response", True, CFG, WORDING["A"], RULE
        )
        == "echo"
    )
    assert rewrite_reject_reason("A statement.", "Why?", "instruction", True, CFG, WORDING["Q"], RULE) == "not_a_question"
    assert rewrite_reject_reason("Why? " * 100, "Why?", "instruction", True, CFG, WORDING["Q"], RULE) == "too_long"
    assert rewrite_reject_reason("Fine text", "Fine", "response", False, CFG, WORDING["A"], RULE) == "unfinished"
    assert rewrite_reject_reason("Why though?", "Why?", "instruction", True, CFG, WORDING["Q"], RULE) is None


def test_a_question_rewrite_is_a_question_by_segment_question_rule():
    """A '?' only in a URL, or a question answered at once, makes no question under `sentence`, as in segment."""
    source = "Where is the FAQ on how it works?"
    for rewrite in [
        "See https://x.org/faq?id=3 for how it works",
        "Where is the FAQ? It is online. It explains how it works. Read it.",
    ]:
        assert rewrite_reject_reason(rewrite, source, "instruction", True, CFG, WORDING["Q"], "sentence") == "not_a_question"
        assert rewrite_reject_reason(rewrite, source, "instruction", True, CFG, WORDING["Q"], "contains") is None


def test_the_reformat_stage_judges_question_rewrites_by_the_configured_rule(tmp_path):
    model = parrot(tmp_path / "model", "See https://x.org/faq?id=3 for how it works")
    questions = ["Where is the FAQ on how it works?"]
    _, metrics, q_out, _ = run_reformat(
        tmp_path, model, {}, questions, ["The FAQ explains how it works."]
    )  # shipped rule: sentence
    assert metrics["instructions"]["rejected_by_reason"] == {"not_a_question": 1}
    assert [(r.instruction, r.raw) for r in q_out] == [(questions[0], questions[0])]  # kept raw


def test_a_disabled_reformat_passes_records_through_and_loads_no_model(tmp_path):
    """reformat.enabled: false must not start an engine (vLLM on a big corpus): here --base holds no model at all."""
    questions, answers = ["Where is the FAQ?"], ["The FAQ is online.", "It explains how it works."]
    _, metrics, q_out, a_out = run_reformat(tmp_path, tmp_path / "no_model", {"reformat": {"enabled": False}}, questions, answers)
    assert [r.instruction for r in q_out] == questions and [r.response for r in a_out] == answers
    assert all(r.raw is None for r in q_out + a_out)  # not rewritten
    assert metrics["instructions"] == {"in": 1, "out": 1, "rewritten": 0, "kept_raw": 0, "dropped": 0, "tokens_generated": 0}
    assert metrics["responses"]["in"] == metrics["responses"]["out"] == 2 and metrics["tokens_generated"] == 0


def test_a_question_rewrite_that_drops_its_content_is_rejected():
    source = "I can't get key bindings to work in Tkinter: why?"
    assert rewrite_reject_reason("Why?", source, "instruction", True, CFG, WORDING["Q"], RULE) == "lost_content"
    assert (
        rewrite_reject_reason("Why don't my key bindings work in Tkinter?", source, "instruction", True, CFG, WORDING["Q"], RULE)
        is None
    )
    assert (
        rewrite_reject_reason("Fine.", source, "response", True, CFG, WORDING["A"], RULE) is None
    )  # answers are judged by meaning only


def test_a_rewrite_must_keep_its_code_blocks_and_add_none():
    source = "To install the packages in that file, run:\n```\npip install -r requirements.txt\n```"
    kept = "To install the packages listed in that file, run:\n```sh\npip install  -r requirements.txt\n```"
    assert rewrite_reject_reason(kept, source, "response", True, CFG, WORDING["A"], RULE) is None  # language tag, spacing
    changed = "To install the packages, run:\n```python\npip install requirements.txt\n```"
    assert rewrite_reject_reason(changed, source, "response", True, CFG, WORDING["A"], RULE) == "changed_code"
    assert (
        rewrite_reject_reason("To install the packages in that file, run pip.", source, "response", True, CFG, WORDING["A"], RULE)
        == "changed_code"
    )
    invented = "To install them, you can run:\n```python\npip install requirements.txt\n```"
    assert (
        rewrite_reject_reason(
            invented, "To install the packages listed in that file, you can run:", "response", True, CFG, WORDING["A"], RULE
        )
        == "changed_code"
    )


def test_the_leaked_reformat_instruction_is_an_echo():
    leaked = (
        "Here is the rewritten text: Rewrite the text below as a fluent, coherent response. "
        "Keep every fact, name and term from it. Sphinx builds HTML from reStructuredText."
    )
    assert (
        rewrite_reject_reason(
            clean_rewrite(leaked), "Sphinx builds HTML from reStructuredText.", "response", True, CFG, WORDING["A"], RULE
        )
        == "echo"
    )


@pytest.mark.parametrize("on_reject", ["keep_raw", "drop"])
def test_rejected_rewrites_are_kept_raw_or_dropped_and_counted(tmp_path, embedder, on_reject):
    engine = HFEngine(parrot(tmp_path, "How does it work?"))
    sources = [
        "So how does it work, then?",
        "Why is the sky blue in Paris?",
    ]  # the rewrite keeps the first's content, none of the second's
    records = [Record(id=f"q{i}", original="instruction", instruction=q) for i, q in enumerate(sources)]
    params = shipped_params(generate={"batch_size": 2}, reformat={"on_reject": on_reject})
    out, stats = reformat_records(engine, records, "instruction", params.reformat, params.generate, PROMPTS, embedder, RULE)
    rewritten = Record(id="q0", original="instruction", instruction="How does it work?", raw=sources[0])
    kept_raw = Record(id="q1", original="instruction", instruction=sources[1], raw=sources[1])
    assert out == ([rewritten, kept_raw] if on_reject == "keep_raw" else [rewritten])
    assert {
        k: stats[k] for k in ("in", "out", "rewritten", "rejected", "rejected_by_reason", "kept_raw", "dropped", "unfinished")
    } == {
        "in": 2,
        "out": 2 if on_reject == "keep_raw" else 1,
        "rewritten": 1,
        "rejected": 1,
        "rejected_by_reason": {"lost_content": 1},
        "kept_raw": int(on_reject == "keep_raw"),
        "dropped": int(on_reject == "drop"),
        "unfinished": 0,
    }


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
    strict = shipped_params(
        generate={"batch_size": 2}, reformat={"max_new_tokens": 48, "min_similarity": 0.999, "min_content_kept": 1.0}
    )
    lenient = shipped_params(
        generate={"batch_size": 2}, reformat={"max_new_tokens": 48, "min_similarity": 0.0, "min_content_kept": 0.0}
    )
    q_out, q_stats = reformat_records(engine, questions, "instruction", strict.reformat, strict.generate, PROMPTS, embedder, RULE)
    a_out, a_stats = reformat_records(engine, answers, "response", strict.reformat, strict.generate, PROMPTS, embedder, RULE)
    # so strict a test lets only verbatim copies through; everything else is kept raw and counted by reason
    assert all(r.original_text == r.raw for r in q_out + a_out) and len(q_out + a_out) == 4
    assert set(q_stats["rejected_by_reason"]) & {"lost_content", "drifted"} and "drifted" in a_stats["rejected_by_reason"]
    _, loose = reformat_records(engine, answers, "response", lenient.reformat, lenient.generate, PROMPTS, embedder, RULE)
    assert "drifted" not in loose["rejected_by_reason"] and "lost_content" not in loose["rejected_by_reason"]
