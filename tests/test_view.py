"""The run's view (cycle_instruct.view, `cycle-instruct view`) on a run that has not finished and on
bad input; the finished run in a real browser is tested on the pipeline test's run
(test_pipeline.py), the 1M-pair timings by benchmarks/view.py (run small here)."""

import asyncio
import json
import re
import shutil
import socket
import subprocess
import sys

import pytest

from cycle_instruct.params import load_params
from cycle_instruct.view import build, datasette

from conftest import ROOT, options, run_stage


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    """A project where only the segment stage has run (for real, on 12 paragraphs of the demo corpus)."""
    root = tmp_path_factory.mktemp("unfinished")
    shutil.copy(ROOT / "params.yaml", root / "params.yaml")
    shutil.copy(ROOT / "dvc.yaml", root / "dvc.yaml")
    raw = root / "data/raw"
    raw.mkdir(parents=True)
    (raw / "faq.txt").write_text("\n\n".join((ROOT / "data/raw/faq_01.txt").read_text().split("\n\n")[:12]) + "\n")
    at = "data/segments/"
    done = run_stage(
        "segment.py",
        *options(
            questions=f"{at}questions.jsonl",
            answers=f"{at}answers.jsonl",
            gold=f"{at}gold.jsonl",
            test=f"{at}test.jsonl",
            metrics="metrics/segment.json",
        ),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return root


def view(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "cycle_instruct.cli", "view", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_an_unfinished_run_names_the_stages_without_outputs_and_shows_what_exists(unfinished, tmp_path):
    params = load_params(unfinished / "params.yaml")
    missing = build(unfinished, tmp_path / "run.db", params.prune, params.chain)
    assert missing[0] == "reformat" and "segment" not in missing and {"embed", "prune", "judge"} <= set(missing)
    segments = sum(1 for side in ("questions", "answers") for _ in open(unfinished / f"data/segments/{side}.jsonl"))

    async def pages():
        ds = datasette(tmp_path / "run.db")
        front = (await ds.client.get("/")).text
        pairs = (await ds.client.get("/run/pairs.json?_shape=array&_size=max")).json()
        stages = (await ds.client.get("/run/run_stages.json?_shape=array")).json()
        return front, pairs, stages

    front, pairs, stages = asyncio.run(pages())
    assert "This run has not finished" in front and "no outputs yet from reformat" in front
    assert len(pairs) == segments > 0
    assert {(p["status"], p["reason"], p["stage"]) for p in pairs} == {("pending", "waiting for reformat", "segment")}
    assert all(p["source_doc"] == "data/raw/faq.txt" for p in pairs)
    assert {s["stage"]: s["status"] for s in stages}["segment"] == "done"
    assert {s["stage"]: s["status"] for s in stages}["prune"] == "no outputs yet"


def test_a_data_file_that_does_not_parse_is_one_line_naming_it(unfinished, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(unfinished, root)
    answers = root / "data/segments/answers.jsonl"
    answers.write_text(answers.read_text() + "{not json\n")
    out = view(root, "--build", "--port", "0")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert lines[0].startswith("error: data/segments/answers.jsonl:") and "not JSON" in lines[0]

    answers.write_text((unfinished / "data/segments/answers.jsonl").read_text())
    (root / "metrics/segment.json").write_text("{")
    out = view(root, "--build", "--port", "0")
    assert out.returncode == 1 and out.stderr.strip().splitlines() == [
        "error: metrics/segment.json: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); run dvc repro segment or dvc checkout"
    ]


def test_a_port_in_use_is_one_line_with_the_option(unfinished, tmp_path):
    params = load_params(unfinished / "params.yaml")
    build(unfinished, tmp_path / "run.db", params.prune, params.chain)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        served = view(unfinished, "--db", str(tmp_path / "run.db"), "--port", str(port))
        built = view(unfinished, "--build", "--port", str(port))  # refused before it builds anything
    for out in (served, built):
        assert out.returncode == 1 and out.stdout == ""
        assert out.stderr.strip().splitlines() == [
            f"error: 127.0.0.1:{port}: cannot listen there (Address already in use); pick another port with --port"
        ]


def test_a_file_that_is_not_a_view_database_is_one_line(tmp_path):
    (tmp_path / "run.db").write_text("not sqlite")
    out = view(tmp_path, "--db", str(tmp_path / "run.db"))
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert "not a cycle-instruct view database" in out.stderr and "cycle-instruct view --build" in out.stderr


def test_view_benchmark_runs_small_and_prints_each_request_against_its_target():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/view.py"), "--pairs", "400", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0].startswith("machine: ") and "cores" in lines[0]
    header = lines.index(next(line for line in lines if line.startswith("request")))
    rows = {name: numbers for name, *numbers in (re.split(r"\s{2,}", line.strip()) for line in lines[header + 1 :])}
    assert set(rows) == {
        "open",
        "facet filter",
        "search, 1% of pairs",
        "search, 10% of pairs",
        "search known pair",
        "sort by distance",
    }
    assert all(float(seconds) > 0 and float(ratio) > 0 for seconds, _, ratio in rows.values())


def test_prune_reasons_are_shown_only_when_prune_decision_gives_pruned_jsonl(tmp_path):
    """The real prune recipe on 300 pairs (the benchmark's synthetic run): the view's reasons count what
    metrics/prune.json counts; with params.yaml's prune section changed since, a note and no reasons."""
    import importlib.util
    import sqlite3

    spec = importlib.util.spec_from_file_location("view_benchmark", ROOT / "benchmarks/view.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.synthesize(tmp_path, 300, 8)
    params = load_params(ROOT / "params.yaml")
    metrics = json.loads((tmp_path / "metrics/prune.json").read_text())

    build(tmp_path, tmp_path / "same.db", params.prune, params.chain)
    with sqlite3.connect(tmp_path / "same.db") as db:
        reasons = dict(db.execute("SELECT reason, count(*) FROM pairs WHERE status='pruned' GROUP BY reason").fetchall())
        clusters = db.execute("SELECT count(*) FROM pairs WHERE cluster >= 0").fetchone()[0]
        page = json.loads(db.execute("SELECT value FROM view_metadata").fetchone()[0])["description_html"]
    assert reasons == {r: n for r, n in metrics["pruned_by_reason"].items() if n} and sum(reasons.values()) == metrics["pruned"]
    assert clusters == metrics["in"] - metrics["pruned_by_reason"]["no_distance"] and "Note:" not in page

    changed = params.prune.model_copy(update={"fraction": 0.5})
    build(tmp_path, tmp_path / "changed.db", changed, params.chain)
    with sqlite3.connect(tmp_path / "changed.db") as db:
        reasons = dict(db.execute("SELECT reason, count(*) FROM pairs WHERE status='pruned' GROUP BY reason").fetchall())
        clusters = db.execute("SELECT count(*) FROM pairs WHERE cluster IS NOT NULL").fetchone()[0]
        page = json.loads(db.execute("SELECT value FROM view_metadata").fetchone()[0])["description_html"]
    assert reasons == {"pruned": metrics["pruned"]} and clusters == 0
    assert "differs from data/final/pruned.jsonl" in page


def test_decontaminated_pairs_show_as_pruned_with_their_reason(tmp_path):
    """Pairs the decontaminate stage dropped after the filter: pruned, reason `decontaminated`, the rest as before."""
    import importlib.util
    import sqlite3

    spec = importlib.util.spec_from_file_location("view_benchmark", ROOT / "benchmarks/view.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.synthesize(tmp_path, 200, 8)
    kept = [json.loads(line) for line in (tmp_path / "data/final/cycle_filt.jsonl").read_text().splitlines()]
    dropped = tmp_path / "data/decontaminate/dropped.jsonl"
    dropped.parent.mkdir(parents=True)
    rows = [{**r, "reason": "decontaminated", "benchmark": "mmlu", "ngram": "w " * 13} for r in kept[:2]]
    dropped.write_text("".join(json.dumps(r) + "\n" for r in rows))
    params = load_params(ROOT / "params.yaml")
    build(tmp_path, tmp_path / "run.db", params.prune, params.chain)
    with sqlite3.connect(tmp_path / "run.db") as db:
        marked = db.execute("SELECT id FROM pairs WHERE reason='decontaminated' AND status='pruned'").fetchall()
        still_kept = db.execute("SELECT count(*) FROM pairs WHERE status='kept'").fetchone()[0]
    assert sorted(i for (i,) in marked) == sorted(r["id"] for r in rows) and still_kept == len(kept) - 2
