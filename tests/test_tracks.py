"""Each of the paper's data tracks read by the real segment stage, on a slice of real data.

Only the segment stage knows the format; every stage after it reads the same record schema,
whatever the track. So the pipeline runs end to end on two tracks, where it costs least: Dolly
(instructions) in test_eval.py's method run and the FAQ text in test_pipeline.py. Here
OpenAssistant (dialogue), flashcards (instructions under other field names) and wikiHow (JSONL
text) run `dvc repro segment`, the stage that reads them, with real DVC, and their segments are
checked against the schema every later stage reads.
"""

import json
from pathlib import Path

import pytest

from cycle_instruct.records import read_records

from conftest import TINY, dvc, make_project

pytestmark = pytest.mark.integration
DATA = Path(__file__).parent / "data"

# the same settings the README's `dvc exp run -S` lines use for each track
TRACKS = {
    "flashcards": {
        "file": "flashcards.jsonl",
        "segment": {"format": "instructions", "fields": {"instruction": "input", "response": "output", "context": ""}},
        "gold": True,
    },
    "oasst": {
        "file": "oasst.jsonl",
        "segment": {"format": "dialogue", "on_bad_record": "skip"},
        "gold": True,
    },
    "wikihow": {"file": "wikihow.jsonl", "segment": {"format": "text"}, "gold": False},
}


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


@pytest.mark.parametrize("track", TRACKS)
def test_each_track_segments_into_the_record_schema(track, tmp_path, dvc_cache):
    spec = TRACKS[track]
    overrides = {**TINY, "iterations": {"1": {"prev": "0"}}, "segment": {"input": f"data/raw/{spec['file']}", **spec["segment"]}}
    root = make_project(tmp_path, overrides, dvc_cache, {f"data/raw/{spec['file']}": (DATA / spec["file"]).read_text()})
    run = dvc("repro", "segment", cwd=root)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    segment = json.loads((root / "metrics/segment.json").read_text())
    assert segment["questions"] > 0 and segment["answers"] > 0
    gold = jsonl(root / "data/segments/gold.jsonl")
    assert (len(gold) > 0) == spec["gold"]
    # what every later stage reads: records of the one schema, each with one real side
    questions = read_records(root / "data/segments/questions.jsonl")
    answers = read_records(root / "data/segments/answers.jsonl")
    assert all(r.original == "instruction" and r.instruction and r.response is None for r in questions)
    assert all(r.original == "response" and r.response and r.instruction is None for r in answers)
    assert len(questions) + len(answers) == segment["questions"] + segment["answers"]
    assert len({r.id for r in questions + answers}) == len(questions) + len(answers)
    if spec["gold"] and track != "oasst":  # each pair gives one side to the loop; the other is held back
        held_back = {g["response"] if g["original"] == "instruction" else g["instruction"] for g in gold}
        assert not held_back & {r.instruction or r.response for r in questions + answers}
