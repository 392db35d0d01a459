"""Export: every format loads in `datasets`, takes a real chat template and trains; the dataset
card's numbers are the metrics files'; adapters carry a real card and a base that loads;
`cycle-instruct show` sorts, shows the pruned pairs, prints export formats and refuses non-records."""

import json
import math
import random
import re
import shlex
import shutil
import subprocess
import sys
import zipfile

import pytest
import yaml

from cycle_instruct.errors import UserError
from cycle_instruct.export import FORMATS, to_messages
from cycle_instruct.params import EXPORT_FORMATS, load_params
from cycle_instruct.records import Record, write_records

from conftest import ROOT, dvc, make_project, run_stage, shipped_params, write_params

pytestmark = pytest.mark.slow  # the export stage under DVC, and datasets/TRL loading the exports: not in make unit

N = json.loads((ROOT / "metrics/prune.json").read_text())["kept"]  # as many pairs as the committed demo run kept
SCRUBBED = {"scrubbed_email": 2, "scrubbed_phone": 1}
PRUNED_BY_REASON = {"cluster_fraction": 3, "max_distance": 1}
BY_SIDE = {  # as today's prune stage writes it (the committed demo metrics may predate it)
    "real_question": {
        "original": "instruction",
        "in": 36,
        "kept": 34,
        "pruned": 2,
        "pruned_by_reason": {"no_distance": 0, "cluster_fraction": 2, "max_distance": 0, "unsupported": 0, "near_duplicate": 0},
        "distance_kept": {"mean": 0.5, "median": 0.51696, "p95": 0.94338},
        "distance_pruned": {"mean": 1.0, "median": 1.04579, "p95": 1.1},
        "relevance_kept": {"mean": 0.6, "median": 0.61, "p95": 0.8},
        "support_kept": {"pairs": 34, "mean": 0.7, "p25": 0.5, "median": 0.72, "p75": 0.9, "below_0.5": 0.2},
    },
    "real_answer": {
        "original": "response",
        "in": 40,
        "kept": 35,
        "pruned": 5,
        "pruned_by_reason": {"no_distance": 3, "cluster_fraction": 1, "max_distance": 1, "unsupported": 0, "near_duplicate": 0},
        "distance_kept": {"mean": 0.7, "median": 0.73264, "p95": 1.00539},
        "distance_pruned": {"mean": 1.1, "median": 1.11944, "p95": 1.19},
        "relevance_kept": {"mean": 0.5, "median": 0.52, "p95": 0.7},
        "support_kept": {"pairs": 0},
    },
}


def pairs(n: int, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        side = "instruction" if i % 2 else "response"
        question, answer = f'What is item {i}, "quoted" and ü?', f"Item {i} is a thing.\nIt has two lines."
        out.append(
            Record(
                id=f"{side[0]}{i:06d}",
                original=side,
                instruction=question,
                response=answer,
                iteration=2,
                source={"doc": f"data/raw/faq_0{i % 4 + 1}.txt", "paragraph": i},
                raw=question if side == "instruction" else answer,
                reconstruction="something",
                distance=round(rng.random() * 1.2, 6),
                relevance=round(rng.random(), 6),
                support=round(rng.random(), 4) if side == "instruction" else None,  # a generated answer's
                retrieved=[f"a{i + 1:06d}", f"a{i + 3:06d}"] if side == "instruction" else None,
            )
        )
    return out


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def write_inputs(root, dataset: str) -> None:
    """The committed demo metrics (plus keys today's stages write), its corpus, and a hand-made dataset of their size."""
    from cycle_instruct.distances import distance_histogram

    shutil.copytree(ROOT / "metrics", root / "metrics")
    shutil.copytree(ROOT / "data" / "raw", root / "data" / "raw")
    segment = json.loads((root / "metrics/segment.json").read_text())
    (root / "metrics/segment.json").write_text(json.dumps({**segment, **SCRUBBED, "too_short": 3}))
    prune = json.loads((root / "metrics/prune.json").read_text())
    (root / "metrics/prune.json").write_text(json.dumps({**prune, "pruned_by_reason": PRUNED_BY_REASON, "by_side": BY_SIDE}))
    (root / "metrics/judge.json").write_text(json.dumps({"enabled": False, "in": N, "kept": N, "rejected": 0}))
    (root / "metrics/plots").mkdir(exist_ok=True)
    (root / "metrics/plots/distances.json").write_text(json.dumps(distance_histogram([0.1, 0.6, 0.62], [1.3, 1.35, 1.36, 1.9])))
    write_records(root / dataset, pairs(N))


def commit(root, message: str) -> None:
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message, cwd=root)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project with the demo's inputs and the export stage run by hand, as `cycle-instruct export` runs it."""
    root = tmp_path_factory.mktemp("project")
    write_inputs(root, "data/final/cycle_filt.jsonl")
    write_records(root / "data/final/pruned.jsonl", pairs(4, seed=1))
    write_params(root, {})
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    commit(root, "init")
    result = run_stage(
        "export.py",
        "--dataset",
        "data/final/cycle_filt.jsonl",
        "--metrics-dir",
        "metrics",
        "--out",
        "data/export",
        "--timing",
        "metrics/timings/export.json",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def dvc_run(tmp_path_factory):
    """This pipeline in a fresh git + DVC repo with the same inputs, and its export stage run by `dvc repro -s export`."""
    root = make_project(tmp_path_factory.mktemp("dvc_project"), {}, None, {})
    write_inputs(root, "data/judge/passed.jsonl")
    git("add", "metrics", "data/raw", cwd=root)
    commit(root, "the stages before export")
    result = dvc("repro", "-s", "export", cwd=root)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_every_format_is_written_and_loads_in_datasets(project, tmp_path):
    from datasets import load_dataset

    out, records = project / "data/export", pairs(N)
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "alpaca.jsonl",
        "messages.jsonl",
        "sharegpt.jsonl",
        "train.parquet",
    ]
    for config in ("messages", "sharegpt", "alpaca", "parquet"):  # the JSONL files by the card's configs, as the hub would
        source = ("parquet", {"data_files": str(out / "train.parquet")}) if config == "parquet" else (str(out), {"name": config})
        rows = load_dataset(source[0], split="train", cache_dir=str(tmp_path), **source[1]).to_list()
        assert len(rows) == N and [r["id"] for r in rows] == [r.id for r in records]
        first, r = rows[0], records[0]
        if config == "messages":
            assert set(first) == {"id", "messages"} and first["messages"] == to_messages(r)["messages"]
            assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
        elif config == "sharegpt":
            assert first["conversations"] == [{"from": "human", "value": r.instruction}, {"from": "gpt", "value": r.response}]
        elif config == "alpaca":
            assert first == {"id": r.id, "instruction": r.instruction, "input": "", "output": r.response}
        else:
            assert {
                k: first[k]
                for k in ("instruction", "response", "original", "iteration", "distance", "source_doc", "source_paragraph")
            } == {
                "instruction": r.instruction,
                "response": r.response,
                "original": r.original,
                "iteration": 2,
                "distance": r.distance,
                "source_doc": r.source["doc"],
                "source_paragraph": r.source["paragraph"],
            }
            grounded = next(row for row, rec in zip(rows, records) if rec.retrieved)
            assert (grounded["support"], grounded["retrieved"]) == (records[1].support, records[1].retrieved)
            assert first["support"] is None and first["retrieved"] is None and first["relevance"] == r.relevance
    plain = load_dataset("json", data_files=str(out / "messages.jsonl"), split="train", cache_dir=str(tmp_path))  # no card needed
    assert plain.column_names == ["id", "messages"]


def chat_template_renders_every_record(tokenizer, rows):
    for row in rows:
        text = tokenizer.apply_chat_template(row["messages"], tokenize=False)
        assert row["messages"][0]["content"] in text and row["messages"][1]["content"] in text
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True)
        assert len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids) > 0


def test_a_real_chat_template_takes_every_messages_record(project, tiny_model_dir):
    from transformers import AutoTokenizer

    rows = jsonl(project / "data/export/messages.jsonl")
    chat_template_renders_every_record(AutoTokenizer.from_pretrained(tiny_model_dir), rows)


def test_the_embedded_smollm2_chat_template_takes_every_messages_record(project):
    from transformers import AutoTokenizer

    from cycle_instruct.models import resolve_base

    folder, gguf = resolve_base("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    rows = jsonl(project / "data/export/messages.jsonl")
    chat_template_renders_every_record(tokenizer, rows)
    assert "<|im_start|>assistant\n" + rows[0]["messages"][1]["content"] in tokenizer.apply_chat_template(
        rows[0]["messages"], tokenize=False
    )


def test_one_sft_step_on_the_messages_file(project, tiny_model_dir):
    from cycle_instruct.models import load_model, load_tokenizer
    from cycle_instruct.training import lora_model, train_lora

    rows = jsonl(project / "data/export/messages.jsonl")
    cfg = shipped_params(
        train={"micro_batch": len(rows), "effective_batch": len(rows), "epochs": 1, "cutoff": 128}
    ).train  # one step, every pair
    model = lora_model(load_model(tiny_model_dir, trainable=True), cfg)
    curve, summary = train_lora(
        model,
        load_tokenizer(tiny_model_dir, padding_side="right"),
        [(row["messages"][:-1], row["messages"][-1]["content"]) for row in rows],
        cfg,
    )
    assert summary["examples"] == N and summary["optimizer_steps"] == 1 and math.isfinite(curve[0]["loss"])


def test_trl_sft_trainer_takes_the_messages_file(project, tiny_model_dir, tmp_path):
    import trl  # the test extra installs it: a missing trl fails here, never skips
    from datasets import load_dataset

    data = load_dataset(
        "json", data_files=str(project / "data/export/messages.jsonl"), split="train", cache_dir=str(tmp_path / "cache")
    )
    args = trl.SFTConfig(
        output_dir=str(tmp_path / "out"),
        max_steps=1,
        per_device_train_batch_size=2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
    )
    result = trl.SFTTrainer(model=str(tiny_model_dir), train_dataset=data, args=args).train()
    assert result.global_step == 1 and math.isfinite(result.training_loss)


def tables(card: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table of the card: (header, rows of cells)."""
    found, current = [], None
    for line in card.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip()[1:-1].split("|")]
        if current is None:
            current = (cells, [])
            found.append(current)
        elif not set(line.strip()) <= set("|-"):
            current[1].append(cells)
    return found


def table(card: str, *header: str) -> dict[str, list[str]]:
    """The rows of the table whose header starts with `header`, by their first cell (repeated ones: first, then `name#2`...)."""
    rows = next(r for h, r in tables(card) if h[: len(header)] == list(header))
    out = {}
    for row in rows:
        key = row[0] if row[0] not in out else f"{row[0]}#{sum(k.split('#')[0] == row[0] for k in out) + 1}"
        out[key] = row[1:]
    return out


def number(cell: str):
    return None if cell in ("", "None", "-") else float(cell)


def reasons(cell: str) -> dict:
    return {} if cell == "-" else {k: int(v) for k, v in (part.split(": ") for part in cell.split(", "))}


def test_the_card_numbers_are_the_metrics_files(project):
    card = (project / "data/export/README.md").read_text()
    m = lambda name: json.loads((project / "metrics" / name).read_text())  # noqa: E731
    segment, reformat, embed, prune = m("segment.json"), m("reformat.json"), m("embed.json"), m("prune.json")

    seg = table(card, "count", "value")
    assert {k: int(v[0]) for k, v in seg.items()} == {
        k: v for k, v in segment.items() if k != "wall_seconds" and not k.startswith("scrubbed_")
    }
    assert {k: int(v[0]) for k, v in table(card, "kind", "replaced").items()} == {
        k.removeprefix("scrubbed_"): v for k, v in SCRUBBED.items()
    }

    stages = table(card, "stage", "in", "out", "rejected")
    for side, name in (("instructions", "questions"), ("responses", "answers")):
        row = stages[f"reformat {name}"]
        assert [number(c) for c in row[:3]] == [reformat[side]["in"], reformat[side]["out"], reformat[side]["rejected"]]
        assert reasons(row[3]) == reformat[side]["rejected_by_reason"]
    iterations = sorted((p.name for p in (project / "metrics/iterations").iterdir()), key=int)  # the committed run's
    assert iterations
    for k in iterations:
        for step in ("relabel_answers", "relabel_questions"):
            row, it = stages[f"{step}@{k}"], m(f"iterations/{k}/{step}.json")
            assert [number(c) for c in row[:3]] == [it["in"], it["out"], it["rejected"]] and reasons(row[3]) == it[
                "rejected_by_reason"
            ]
    for side in ("questions", "answers"):
        row, rec = stages[f"embed: reconstruct {side}"], embed[f"reconstruct_{side}"]
        assert [number(row[0]), number(row[2])] == [rec["generated"], rec["rejected"]] and reasons(row[3]) == rec[
            "rejected_by_reason"
        ]
    assert number(stages["embed (Cycle-Inst)"][1]) == embed["pairs"]
    row = stages["prune (Cycle-Filt)"]
    assert [number(c) for c in row[:3]] == [prune["in"], prune["kept"], prune["pruned"]] and reasons(row[3]) == PRUNED_BY_REASON
    assert [number(c) for c in stages["judge"][:3]] == [N, N, 0] and "off" in stages["judge"][4]

    training = table(card, "adapter", "iteration", "examples")
    for n, k in enumerate(iterations):
        for step, label in (("train_bwd", "M_AQ (answer -> question)"), ("train_fwd", "M_QA (question -> answer)")):
            row, it = training[label if n == 0 else f"{label}#{n + 1}"], m(f"iterations/{k}/{step}.json")
            assert row[0] == k and [number(c) for c in row[1:]] == [
                it[x] for x in ("examples", "optimizer_steps", "first_loss", "final_loss", "mean_loss_last_epoch")
            ]

    distances = table(card, "pairs", "count", "mean")
    for name, count, stats in (
        ("Cycle-Inst (all)", embed["pairs"], embed["distance"]),
        ("kept", prune["kept"], prune["distance_kept"]),
        ("pruned", prune["pruned"], prune["distance_pruned"]),
    ):
        assert [number(c) for c in distances[name]] == [count, stats["mean"], stats["median"], stats["p95"]]
    sides = table(card, "side", "original", "in", "kept", "pruned")
    assert {k: [v[0], *map(number, v[1:4]), reasons(v[4]), *map(number, v[5:])] for k, v in sides.items()} == {
        label: [
            f"`{BY_SIDE[key]['original']}`",
            *(BY_SIDE[key][c] for c in ("in", "kept", "pruned")),
            {r: n for r, n in BY_SIDE[key]["pruned_by_reason"].items() if n},
            BY_SIDE[key]["distance_kept"]["median"],
            BY_SIDE[key]["distance_pruned"]["median"],
            BY_SIDE[key]["relevance_kept"]["median"],
            BY_SIDE[key]["support_kept"].get("median"),  # a real answer has no support: an empty cell
        ]
        for key, label in (
            ("real_question", "real question, generated answer"),
            ("real_answer", "real answer, generated question"),
        )
    }
    assert "(prune.rank: pooled, as in the paper)" in card
    histogram = {b["distance"]: [b["kept"], b["pruned"]] for b in m("plots/distances.json") if b["kept"] or b["pruned"]}
    assert {float(k): [int(c) for c in v] for k, v in table(card, "distance from", "kept", "pruned").items()} == histogram

    files = table(card, "file", "config", "rows")
    assert {k: (v[0], int(v[1])) for k, v in files.items()} == {
        "`messages.jsonl`": ("messages", N),
        "`sharegpt.jsonl`": ("sharegpt", N),
        "`alpaca.jsonl`": ("alpaca", N),
        "`train.parquet`": ("parquet", N),
    }
    assert f"\n{N} instruction-response pairs" in card


def test_the_card_header_params_and_provenance(project):
    card = (project / "data/export/README.md").read_text()
    _, header, body = card.split("---\n", 2)
    meta, params = yaml.safe_load(header), load_params(project / "params.yaml")
    assert meta["license"] == params.export.license and meta["language"] == params.export.language
    assert meta["size_categories"] == ["n<1K"] and "text-generation" in meta["task_categories"]
    for config in meta["configs"]:
        assert (project / "data/export" / config["data_files"][0]["path"]).is_file()
    shaped = yaml.safe_load(body.split("```yaml\n", 1)[1].split("```", 1)[0])
    assert list(shaped) == [
        "model",
        "segment",
        "reformat",
        "relabel",
        "generate",
        "train",
        "iterations",
        "prune",
        "decontaminate",
    ]
    for name in shaped:
        section = getattr(params, name)
        assert shaped[name] == (
            section.model_dump() if hasattr(section, "model_dump") else {k: v.model_dump() for k, v in section.items()}
        )

    source, run = table(card, "corpus", "value"), table(card, "run", "value")
    assert (
        source["input (segment.input)"] == ["`data/raw`"]
        and int(source["files read"][0]) == json.loads((project / "metrics/segment.json").read_text())["files"]
    )
    assert len(source["content sha256"][0].strip("`")) == 64
    assert run["git commit"] == [f"`{git('rev-parse', 'HEAD', cwd=project).strip()}`"]
    assert run["uncommitted changes to tracked files"] == ["no"]
    assert "Run by hand, not by `dvc repro`" in card and "dvc.lock sha256" not in card  # no dvc.lock entry to match
    assert "Shen et al., EMNLP 2025, arXiv 2508.16100" in card.replace("\n", " ") and "## Known limitations" in card


def test_a_dirty_tree_and_another_corpus_change_the_card(project, tmp_path):
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    before = (copy / "data/export/README.md").read_text()
    with open(copy / "data/raw/faq_01.txt", "a") as f:
        f.write("\nOne more line.\n")
    result = run_stage(
        "export.py", "--dataset", "data/final/cycle_filt.jsonl", "--metrics-dir", "metrics", "--out", "data/export", cwd=copy
    )
    assert result.returncode == 0, result.stderr
    after = (copy / "data/export/README.md").read_text()
    assert table(after, "run", "value")["uncommitted changes to tracked files"] == ["yes: data/raw/faq_01.txt"]
    assert table(after, "corpus", "value")["content sha256"] != table(before, "corpus", "value")["content sha256"]


def test_a_dvc_runs_card_finds_its_run_in_dvc_lock(dvc_run):
    """The card of a `dvc repro` lists the md5 that dvc.lock records for each dep of the export stage, and its
    recipe (`git log -S <dataset md5> -- dvc.lock`) finds the commit that recorded the run, a child of the card's
    commit. (It used to give a sha256 of dvc.lock hashed mid-run, which matched no committed file.)"""
    root = dvc_run
    card = (root / "data/export/README.md").read_text()
    deps = {d["path"]: d["md5"] for d in yaml.safe_load((root / "dvc.lock").read_text())["stages"]["export"]["deps"]}
    assert {k.strip("`"): v[0].strip("`") for k, v in table(card, "dep", "md5").items()} == deps
    assert {"data/judge/passed.jsonl", "data/raw", "metrics/iterations", "src/cycle_instruct/templates/dataset_card.md"} <= set(
        deps
    )
    assert deps["metrics/iterations"].endswith(".dir") and "dvc.lock sha256" not in card
    started = git("rev-parse", "HEAD", cwd=root).strip()
    run = table(card, "run", "value")
    assert run["git commit"] == [f"`{started}`"] and run["uncommitted changes to tracked files"] == ["no"]

    git("add", "dvc.lock", "metrics", cwd=root)  # as the README says: commit dvc.lock and metrics/ after a run
    commit(root, "run")
    recipe = re.search(r"`(git log -S (\w+) --oneline -- dvc.lock)`", card.replace("\n", " "))
    assert recipe.group(2) == deps["data/judge/passed.jsonl"]
    found = subprocess.run(shlex.split(recipe.group(1)), cwd=root, capture_output=True, text=True, check=True).stdout
    assert found.splitlines() == [git("log", "-1", "--oneline", cwd=root).strip()]
    assert git("rev-parse", "HEAD^", cwd=root).strip() == started


def test_export_formats_is_a_param(project, tmp_path):
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    write_params(copy, {"export": {"formats": ["alpaca"]}})
    result = run_stage(
        "export.py", "--dataset", "data/final/cycle_filt.jsonl", "--metrics-dir", "metrics", "--out", "data/export", cwd=copy
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (copy / "data/export").iterdir()) == ["README.md", "alpaca.jsonl"]
    meta = yaml.safe_load((copy / "data/export/README.md").read_text().split("---\n")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["alpaca"]
    assert EXPORT_FORMATS == tuple(FORMATS)  # params.py names the formats without importing export.py

    write_params(copy, {"export": {"formats": ["alpaca", "csv"]}})
    result = run_stage(
        "export.py", "--dataset", "data/final/cycle_filt.jsonl", "--metrics-dir", "metrics", "--out", "data/export", cwd=copy
    )
    assert result.returncode == 1 and result.stderr.strip() == (
        "error: params.yaml: export.formats.1 = 'csv': should be 'messages', 'sharegpt', 'alpaca' or 'parquet'"
    )
    with pytest.raises(UserError, match="give each format once"):
        shipped_params(export={"formats": []})


def test_export_refuses_half_pairs_and_stale_metrics(project, tmp_path):
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    half = pairs(N)
    half[3].response = None
    write_records(copy / "data/final/cycle_filt.jsonl", half)
    args = ("--dataset", "data/final/cycle_filt.jsonl", "--metrics-dir", "metrics", "--out", "data/fresh")
    result = run_stage("export.py", *args, cwd=copy)
    assert result.returncode == 1 and result.stderr.strip() == (
        f"error: data/final/cycle_filt.jsonl: record {half[3].id} has no response; export takes full pairs, such as data/final/cycle_filt.jsonl"
    )
    write_records(copy / "data/final/cycle_filt.jsonl", pairs(N - 1))
    result = run_stage("export.py", *args, cwd=copy)
    assert (
        result.returncode == 1
        and f"metrics/judge.json: {N} pairs kept, but data/final/cycle_filt.jsonl holds {N - 1}" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1 and not (copy / "data/fresh").exists()


def test_the_card_template_is_in_the_wheel(tmp_path):
    """A pip-installed package holds the template (package-data), not only a source checkout."""
    for name in ("src", "pyproject.toml", "README.md"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / "pkg" / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(tmp_path / "pkg"),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert "cycle_instruct/templates/dataset_card.md" in zipfile.ZipFile(wheel).namelist()


# adapters: a real card, and a base model that loads from anywhere (or says how)


def train_adapter(project, params, base):
    from cycle_instruct.steps.train import run

    write_records(
        project / "pairs.jsonl",
        [Record(id=f"a{i}", original="response", instruction=f"Why {i}?", response="Because.", iteration=1) for i in range(4)],
    )
    run(
        params,
        "fwd",
        base=base,
        pairs="pairs.jsonl",
        previous="none",
        out="data/iterations/1/m_qa",
        prompt_files=[str(ROOT / "prompts" / "forward.txt")],
        metrics="m.json",
        curve="c.json",
    )
    return project / "data/iterations/1/m_qa"


TRAIN = {"lora_r": 4, "lora_alpha": 8, "micro_batch": 2, "effective_batch": 4, "cutoff": 64}


def test_an_adapter_with_an_absolute_base_loads_from_anywhere(tiny_model_dir, tmp_path, monkeypatch):
    from peft import AutoPeftModelForCausalLM

    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    adapter = train_adapter(
        tmp_path / "project", shipped_params(model={"base": str(tiny_model_dir)}, train=TRAIN), str(tiny_model_dir)
    )
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_model_dir)
    card, metrics = (adapter / "README.md").read_text(), json.loads((tmp_path / "project/m.json").read_text())
    assert "More Information Needed" not in card and "# M_QA (question -> answer), iteration 1" in card
    assert f"first {metrics['first_loss']}, final {metrics['final_loss']}" in card and "4 pairs: pseudo-questions" in card
    assert "r 4, alpha 8" in card and "AutoPeftModelForCausalLM.from_pretrained(" in card
    monkeypatch.chdir(tmp_path)  # elsewhere
    assert type(AutoPeftModelForCausalLM.from_pretrained(str(adapter))).__name__ == "PeftModelForCausalLM"


def test_an_adapter_of_the_embedded_base_names_the_prepared_base_relative_to_the_project(tiny_model_dir, tmp_path, monkeypatch):
    from peft import AutoPeftModelForCausalLM, PeftModel

    project = tmp_path / "project"
    (project / "data/models").mkdir(parents=True)
    shutil.copytree(tiny_model_dir, project / "data/models/base")  # stands in for prepare_base's output
    monkeypatch.chdir(project)
    adapter = train_adapter(project, shipped_params(train=TRAIN), "data/models/base")
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "data/models/base"  # no machine-specific path in a DVC output
    card = (adapter / "README.md").read_text()
    assert "Q4_1 GGUF" in card and "base_model:" not in card.split("---")[1]  # not a hub id: no hub metadata
    assert type(AutoPeftModelForCausalLM.from_pretrained("data/iterations/1/m_qa")).__name__ == "PeftModelForCausalLM"
    monkeypatch.chdir(tmp_path)  # elsewhere: the card's recipe, with <project> filled in
    code = card.split("```python\n", 1)[1].split("```", 1)[0].replace("<project>", str(project))
    scope = {}
    exec(code, scope)
    assert isinstance(scope["model"], PeftModel)


def test_base_reference(tiny_model_dir, tmp_path, monkeypatch):
    from cycle_instruct.card import base_reference

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.gguf").write_bytes(b"GGUF")
    assert base_reference("smollm2-135m-instruct", "data/models/base") == "data/models/base"
    assert base_reference("meta-llama/Llama-3.1-8B", "data/models/base") == "meta-llama/Llama-3.1-8B"
    assert base_reference(str(tiny_model_dir), "data/models/base") == str(tiny_model_dir)
    assert base_reference("models", "data/models/base") == "data/models/base"  # relative: only from the project
    assert base_reference(str(tmp_path / "models" / "x.gguf"), "data/models/base") == "data/models/base"  # GGUF: converted


# cycle-instruct show


def show(*args, cwd):
    return subprocess.run(["cycle-instruct", "show", *args], cwd=cwd, capture_output=True, text=True)


def shown_ids(out: str) -> list[str]:
    return [line.split("]")[0][1:] for line in out.splitlines() if line.startswith("[")]


def test_show_sorts_by_distance(project):
    by_distance = [r.id for r in sorted(pairs(N), key=lambda r: r.distance)]
    assert shown_ids(show("-n", "3", "--sort", "distance", cwd=project).stdout) == by_distance[:3]
    assert shown_ids(show("-n", "3", "--sort=-distance", cwd=project).stdout) == by_distance[::-1][:3]
    assert shown_ids(show("-n", "3", "--worst", cwd=project).stdout) == by_distance[::-1][:3]
    assert shown_ids(show("-n", "2", cwd=project).stdout) == [
        r.id for r in pairs(2)
    ]  # default: the file's order, cycle_filt.jsonl


def test_show_pruned(project):
    dropped = [r.id for r in pairs(4, seed=1)]
    assert shown_ids(show("--pruned", cwd=project).stdout) == dropped
    assert shown_ids(show("--pruned", "data/final/cycle_filt.jsonl", cwd=project).stdout) == dropped
    assert shown_ids(show("--pruned", "--worst", "-n", "1", cwd=project).stdout) == [
        max(pairs(4, seed=1), key=lambda r: r.distance).id
    ]


def test_show_prints_export_formats(project):
    for fmt in ("messages", "sharegpt", "alpaca"):
        out = show("-n", "2", "--format", fmt, cwd=project)
        assert out.returncode == 0, out.stderr
        assert [json.loads(line) for line in out.stdout.splitlines()] == jsonl(project / f"data/export/{fmt}.jsonl")[:2]


@pytest.mark.parametrize(
    "content, why",
    [
        ("# a README\n", "not JSON (Expecting value)"),
        ('{"id": "q1", "original": "instruction"}\n[1, 2]\n', "no id and no original"),
        ('{"instruction": "Why?"}\n', "no id and no original"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "not UTF-8 text"),
    ],
)
def test_show_refuses_a_file_that_is_not_records_in_one_line(tmp_path, content, why):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    result = show(str(path), cwd=tmp_path)
    line = 2 if "[1, 2]" in str(content) else 1
    assert result.returncode == 1 and result.stdout.count("[q1]") == (line == 2)  # records stream until the bad line
    assert (
        result.stderr.strip()
        == f"error: {path}:{line}: not a cycle-instruct record file (JSONL of records, such as data/final/cycle_filt.jsonl): {why}"
    )
    missing = show(cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("error: data/final/cycle_filt.jsonl: no such file")


def test_the_card_of_metrics_without_by_side_says_so():
    """metrics/prune.json from a prune stage older than by_side: the card says where the table went, and builds."""
    from cycle_instruct.dataset_card import by_side_text

    text = by_side_text({"in": 3, "kept": 3, "pruned": 0}, load_params(ROOT / "params.yaml").prune)
    assert "has no `by_side`" in text and "dvc repro prune" in text and "|" not in text
