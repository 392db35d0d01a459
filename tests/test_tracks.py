"""Each of the paper's data tracks through the real pipeline, on a slice of real data.

Only the segment stage knows the format; every stage after it is the same code whatever the
track. So one track of each kind runs end to end where it costs least: Dolly (instructions)
in test_eval.py's method run, the FAQ text in test_pipeline.py, and OpenAssistant
(dialogue) here; flashcards (instructions under other field names) and wikiHow (JSONL text)
run `dvc repro segment`, the stage that reads them, with real DVC.
"""

import json
from pathlib import Path

import pytest

from conftest import TINY, dvc, make_project

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"

# the same settings the README's `dvc exp run -S` lines use for each track
TRACKS = {
    "flashcards": {
        "file": "flashcards.jsonl",
        "segment": {"format": "instructions", "fields": {"instruction": "input", "response": "output", "context": ""}},
        "gold": True,
        "end_to_end": False,
    },
    "oasst": {
        "file": "oasst.jsonl",
        "segment": {"format": "dialogue", "on_bad_record": "skip"},
        "gold": True,
        "end_to_end": True,
    },
    "wikihow": {"file": "wikihow.jsonl", "segment": {"format": "text"}, "gold": False, "end_to_end": False},
}


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("track", TRACKS)
def test_track_runs_through_the_pipeline(track, tmp_path, dvc_cache):
    spec = TRACKS[track]
    overrides = {**TINY, "iterations": {"1": {"prev": "0"}}, "segment": {"input": f"data/raw/{spec['file']}", **spec["segment"]}}
    root = make_project(tmp_path, overrides, dvc_cache, {f"data/raw/{spec['file']}": (DATA / spec["file"]).read_text()})
    run = dvc("repro", *([] if spec["end_to_end"] else ["segment"]), cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    segment = json.loads((root / "metrics/segment.json").read_text())
    assert segment["questions"] > 0 and segment["answers"] > 0
    gold = jsonl(root / "data/segments/gold.jsonl")
    assert (len(gold) > 0) == spec["gold"]
    sides = jsonl(root / "data/segments/questions.jsonl") + jsonl(root / "data/segments/answers.jsonl")
    assert all(r["instruction"] or r["response"] for r in sides) and len(sides) == segment["questions"] + segment["answers"]
    if spec["gold"] and track != "oasst":  # each pair gives one side to the loop; the other is held back
        held_back = {g["response"] if g["original"] == "instruction" else g["instruction"] for g in gold}
        assert not held_back & {r["instruction"] or r["response"] for r in sides}
    if spec["end_to_end"]:
        inst = jsonl(root / "data/final/cycle_inst.jsonl")
        filt, pruned = jsonl(root / "data/final/cycle_filt.jsonl"), jsonl(root / "data/final/pruned.jsonl")
        assert inst and len(filt) + len(pruned) == len(inst)
        assert all(p["instruction"] and p["response"] and p["iteration"] == 1 for p in inst)
        assert len(jsonl(root / "data/export/messages.jsonl")) == len(filt)
