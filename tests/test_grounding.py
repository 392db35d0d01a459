"""Grounded pseudo-answers (relabel.context: retrieved) and the support score, on real documentation."""

import json
import shutil

import pytest

from cycle_instruct.cycle import complete
from cycle_instruct.engines import HFEngine
from cycle_instruct.prompts import forward_messages, load_prompts, shipped_prompts
from cycle_instruct.records import Record, read_jsonl, read_records, write_records
from cycle_instruct.retrieval import context_text, fill_budget
from cycle_instruct.support import word_support

from conftest import ROOT, options, run_stage, segment_outputs, shipped_params, write_params

SPHINX_FAQ = ROOT / "tests/data/docs/sphinx/faq.rst"
SYSV_README = ROOT / "tests/data/docs/sysv-rc/init.d-README"


@pytest.fixture(scope="module")
def sphinx_segments(tmp_path_factory):
    """The Sphinx FAQ as segment reads it: its question headings and its answer paragraphs."""
    root = tmp_path_factory.mktemp("sphinx")
    (root / "raw").mkdir()
    shutil.copy(SPHINX_FAQ, root / "raw/faq.rst")
    write_params(root, {"segment": {"input": "raw"}})
    done = run_stage("segment.py", *segment_outputs("seg"), cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def retrieve(root, **relabel):
    write_params(root, {"segment": {"input": "raw"}, "relabel": relabel})
    return run_stage(
        "retrieve.py", *options(questions="seg/q.jsonl", answers="seg/a.jsonl", out="ctx.jsonl", metrics="m.json"), cwd=root
    )


@pytest.mark.slow
def test_retrieval_finds_the_paragraph_that_answers_each_faq_question(sphinx_segments):
    root = sphinx_segments
    done = retrieve(root, context="retrieved", k=3, context_chars=2000)
    assert done.returncode == 0, done.stderr
    questions, answers = read_records(root / "seg/q.jsonl"), {r.id: r for r in read_records(root / "seg/a.jsonl")}
    rows = {row["id"]: row for row in read_jsonl(root / "ctx.jsonl")}
    assert set(rows) == {q.id for q in questions} and len(questions) == 7
    answered_first = 0
    for q in questions:
        paragraphs = rows[q.id]["paragraphs"]
        assert 1 <= len(paragraphs) <= 3 and sum(len(p["text"]) for p in paragraphs) <= 2000
        assert [p["cosine"] for p in paragraphs] == sorted((p["cosine"] for p in paragraphs), reverse=True)
        assert all(answers[p["id"]].response == p["text"] for p in paragraphs)  # the corpus's own words
        # the FAQ's answer is the paragraph right after the question heading: segment never linked them
        answered_first += answers[paragraphs[0]["id"]].source["paragraph"] == q.source["paragraph"] + 1
    assert answered_first >= 5  # 5 of the 7 (measured; the other two questions are answered by a later paragraph)
    toc = next(q for q in questions if "TOC tree" in q.instruction)
    assert rows[toc.id]["paragraphs"][0]["text"].startswith("Use the toctree callable in a custom layout template")
    metrics = json.loads((root / "m.json").read_text())
    assert metrics["questions"] == 7 and metrics["answer_paragraphs"] == len(answers) and metrics["context"] == "retrieved"


def test_retrieve_with_none_writes_nothing_and_loads_no_model(sphinx_segments, tmp_path):
    root = sphinx_segments
    write_params(root, {"segment": {"input": "raw"}, "relabel": {"context": "none"}})
    done = run_stage(
        "retrieve.py",
        *options(questions="seg/q.jsonl", answers="seg/a.jsonl", out=tmp_path / "ctx.jsonl", metrics=tmp_path / "m.json"),
        cwd=root,
        hide=("sentence_transformers",),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ctx.jsonl").read_text() == "" and json.loads((tmp_path / "m.json").read_text()) == {"context": "none"}


def test_retrieved_with_an_empty_answer_side_is_one_line(sphinx_segments):
    root = sphinx_segments
    (root / "seg/empty.jsonl").write_text("")
    write_params(root, {"segment": {"input": "raw"}, "relabel": {"context": "retrieved"}})
    done = run_stage(
        "retrieve.py", *options(questions="seg/q.jsonl", answers="seg/empty.jsonl", out="ctx2.jsonl", metrics="m2.json"), cwd=root
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: seg/empty.jsonl: no answer paragraphs to retrieve from; relabel.context: retrieved needs a corpus with an answer"
        " side (or set it to none)"
    ]
    assert not (root / "ctx2.jsonl").exists()


def test_a_context_budget_smaller_than_a_paragraph_names_both_settings(tmp_path):
    write_params(tmp_path, {"relabel": {"context": "retrieved", "context_chars": 500}, "segment": {"max_chars": 1200}})
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    done = run_stage("retrieve.py", *options(questions="q", answers="a", out="o", metrics="m"), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "relabel.context_chars (500) is smaller than one paragraph can be (segment.max_chars: 1200)" in done.stderr


def test_a_grounded_prompt_without_its_context_placeholder_names_the_file(tmp_path):
    (tmp_path / "forward_grounded.txt").write_text("Answer this: {question}\n")
    with pytest.raises(Exception) as error:
        load_prompts([tmp_path / "forward_grounded.txt"])
    assert str(error.value) == (
        f"{tmp_path / 'forward_grounded.txt'}: missing placeholder {{context}}; the template must use {{context}}, {{question}}"
    )


def test_the_grounded_prompt_puts_the_paragraphs_before_the_question():
    prompts = shipped_prompts("forward", "forward_grounded")
    plain = forward_messages(prompts, "How do I get section numbers?")
    grounded = forward_messages(prompts, "How do I get section numbers?", context_text(["Use :numbered: in the toctree."]))
    assert plain[0]["content"] == "How do I get section numbers?"
    text = grounded[0]["content"]
    assert text.index("[1] Use :numbered: in the toctree.") < text.index("How do I get section numbers?")


def test_the_budget_keeps_the_nearest_paragraphs_that_fit():
    texts = ["a" * 900, "b" * 900, "c" * 300, "d" * 100]
    assert fill_budget([(0, 0.9), (1, 0.8), (2, 0.7)], texts, 2000) == [(0, 0.9), (1, 0.8)]
    assert fill_budget([(2, 0.9), (3, 0.8)], texts, 2000) == [(2, 0.9), (3, 0.8)]
    assert fill_budget([(0, 0.9)], texts, 100) == [(0, 0.9)]  # the nearest always goes in


@pytest.mark.slow
def test_relabel_asks_each_question_with_its_paragraphs_and_records_them(sphinx_segments, embedded_base, tmp_path):
    """The relabel stage on real FAQ questions with the embedded model: each pseudo-answer records the
    paragraphs it was written from, and the pair itself stays (question, answer)."""
    root = sphinx_segments
    assert retrieve(root, context="retrieved", k=2, context_chars=2000).returncode == 0
    questions = read_records(root / "seg/q.jsonl")[:3]
    write_records(root / "three.jsonl", questions)
    write_params(
        root,
        {"segment": {"input": "raw"}, "relabel": {"context": "retrieved"}, "generate": {"engine": "hf", "max_new_tokens": 24}},
    )
    args = options(iteration=1, base=embedded_base, adapter=tmp_path / "none", records="three.jsonl", contexts="ctx.jsonl")
    args += ["--prompts", str(ROOT / "prompts/forward.txt"), "--prompts", str(ROOT / "prompts/forward_grounded.txt")]
    done = run_stage("relabel.py", *args, *options(out="pa.jsonl", metrics="pa.json"), cwd=root)
    assert done.returncode == 0, done.stderr
    rows = {row["id"]: [p["id"] for p in row["paragraphs"]] for row in read_jsonl(root / "ctx.jsonl")}
    out = read_records(root / "pa.jsonl")
    assert out and all(r.retrieved == rows[r.id] and len(r.retrieved) == 2 for r in out)
    assert all(r.response and "[1]" not in r.instruction for r in out)  # the dataset's question is the question alone
    assert json.loads((root / "pa.json").read_text())["grounded"] == 3


@pytest.mark.slow
def test_a_grounded_answer_differs_from_the_ungrounded_one(embedded_base):
    """The same question, same seed: the paragraphs change what M_QA writes (they reach the model)."""
    engine = HFEngine(embedded_base)
    cfg = shipped_params(generate={"max_new_tokens": 24, "temperature": 0}).generate
    question = Record(id="q", original="instruction", instruction="How do I display the whole TOC tree in the sidebar?")
    context = context_text(["Use the toctree callable in a custom layout template, probably in the sidebartoc block."])
    prompts = shipped_prompts("forward", "forward_grounded")
    (plain,), _ = complete(engine, [question], cfg, prompts)
    (grounded,), _ = complete(engine, [question], cfg, prompts, contexts={"q": context})
    assert plain.response != grounded.response


# The support score: share of an answer's content words that the nearest corpus paragraphs contain.
SYSV_PARAGRAPH = SYSV_README.read_text().split("\n\n")[0]


def test_an_invented_answer_has_low_support_and_a_restated_one_high():
    paragraphs = SYSV_README.read_text().split("\n\n")
    invented = "Sudo (Debug and Sync) is a debugger for Debian and Ubuntu, used to trace kernel modules in real time."
    restated = " ".join(SYSV_PARAGRAPH.split()[:25])
    assert word_support(invented, paragraphs) < 0.3
    assert word_support(restated, paragraphs) == 1.0
    assert word_support("It is.", paragraphs) == 1.0  # nothing to check: no content word


@pytest.mark.slow
def test_support_scores_use_the_nearest_paragraphs_of_the_corpus():
    from cycle_instruct.embedding import load_embedder
    from cycle_instruct.retrieval import ParagraphIndex
    from cycle_instruct.support import support_scores

    paragraphs = [p for p in SPHINX_FAQ.read_text().split("\n\n") if len(p) > 80]
    index = ParagraphIndex(load_embedder("all-MiniLM-L6-v2"), [str(i) for i in range(len(paragraphs))], paragraphs)
    grounded = paragraphs[3][:200]
    invented = "Sphinx renders PDF files through the Quartz engine of macOS, which ships the Helvetica Neue fonts."
    high, low = support_scores(index, [grounded, invented])
    assert high > 0.9 and low < 0.5


def test_an_answer_that_cites_its_paragraphs_is_rejected_only_when_grounded():
    from cycle_instruct.cycle import cites_context

    for text in ("The passages provide a list of brokers.", "According to the text above, yes.", "See [2] for the option."):
        assert cites_context(text), text
    for text in ("Use the documentation of your broker.", "Set SENDFILE=0 in the environment.", "Pass --no-sendfile."):
        assert not cites_context(text), text
