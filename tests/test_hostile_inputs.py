"""Hostile corpus input: every case ends in ONE `error: <file>[:<line>]: ...` line (exit 1, no
traceback, no output file), or runs and counts what it skipped or cleaned in metrics/segment.json.

The segment stage's command runs in-process (fast); one FIFO case and the unreadable file (which
root could read) run the real script.
"""

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cycle_instruct.steps.segment import command

from conftest import ROOT, segment_outputs, write_params

OK = "Why?\n\nBecause.\n"  # a corpus with both sides
QA = '{"instruction": "Why?", "response": "Because."}\n'
QA2 = '{"instruction": "How?", "response": "So."}\n'  # with segment.seed 1, QA gives its question and QA2 its answer
J = {"seed": 1}
FIFO, SOCKET = "<fifo>", "<socket>"


class Link(str):
    """A symlink to this target."""


def oasst(*rows) -> str:
    keys = ("message_id", "parent_id", "role", "text")
    return "".join(json.dumps(dict(zip(keys, row))) + "\n" for row in rows)


TREE = [("m1", None, "prompter", "Why?"), ("m2", "m1", "assistant", "Because.")]
CYCLE = [*TREE, ("c1", "c2", "prompter", "How?"), ("c2", "c1", "assistant", "So.")]
DUPLICATE = [*TREE, ("m1", None, "prompter", "Overwritten?")]
DEEP = "[" * 200_000 + "]" * 200_000
BIG_INT = "1" * 5000

# name: (files to write, segment params, expected): a str is the error after "error: " (its start);
# a dict holds metrics that must match, and "questions"/"answers"/"docs" for the records written.
CASES = {
    # --- README's bad-input table ----------------------------------------------------------
    "missing path": ({}, {"input": "nope"}, "nope: no such file or folder; set segment.input"),
    "empty folder": (
        {"docs/.keep": ""},
        {"input": "docs"},
        "docs: no file in the folder matches segment.include (**/*.txt, **/*.md, **/*.markdown, **/*.rst, **/*.html, **/*.htm, **/*.jsonl, **/*.json)",
    ),
    "empty file": ({"docs/a.txt": ""}, {"input": "docs/a.txt"}, "docs/a.txt: file is empty"),
    "no question marks": ({"docs/a.txt": "A.\n\nB.\n"}, {"input": "docs"}, "docs: no paragraph contains a question mark"),
    "only questions": ({"docs/a.txt": "A?\n\nB?\n"}, {"input": "docs"}, "docs: every paragraph contains a question mark"),
    "non-UTF-8 bytes": (
        {"docs/a.txt": b"Why?\n\ncaf\xe9\n"},
        {"input": "docs"},
        "docs/a.txt:3: not valid UTF-8 (byte 9); convert the file",
    ),
    "binary file alone": ({"docs/a.txt": b"\x00\x01\x02"}, {"input": "docs/a.txt"}, "docs/a.txt: looks like a binary file"),
    "binary file in a folder": (
        {"docs/a.txt": OK, "docs/b.txt": b"\x89PNG\x00\x00"},
        {"input": "docs"},
        {"skipped_binary_files": 1, "questions": ["Why?"]},
    ),
    "malformed JSON line": (
        {"d.jsonl": QA + "{oops\n"},
        {"input": "d.jsonl"},
        "d.jsonl:2: malformed JSON (Expecting property name",
    ),
    "malformed JSON line, skip": (
        {"d.jsonl": QA + "{oops\n" + QA2},
        {"input": "d.jsonl", "on_bad_record": "skip", **J},
        {"skipped_malformed_lines": 1, "gold_pairs": 2},
    ),
    "missing field": (
        {"d.jsonl": '{"instruction": "a?"}\n'},
        {"input": "d.jsonl", "format": "instructions"},
        "d.jsonl:1: record has no field 'response'",
    ),
    "wrong type": (
        {"d.jsonl": '{"instruction": "a?", "response": 3}\n'},
        {"input": "d.jsonl"},
        "d.jsonl:1: field 'response' is a number, expected a string",
    ),
    "wrong type, skip": (
        {"d.jsonl": QA + '{"instruction": "a?", "response": [1]}\n' + QA2},
        {"input": "d.jsonl", "on_bad_record": "skip", **J},
        {"skipped_wrong_type": 1, "gold_pairs": 2},
    ),
    "unknown role": (
        {"c.jsonl": '{"messages": [{"role": "robot\\nx", "content": "Hi?"}]}\n'},
        {"input": "c.jsonl"},
        "c.jsonl:1: unknown role 'robot\\nx'",
    ),
    "broken parent link": (
        {"o.jsonl": oasst(("m1", "gone", "prompter", "Hi?"))},
        {"input": "o.jsonl"},
        "o.jsonl:1: parent_id gone of message m1 is not in the file",
    ),
    "broken parent link, skip": (
        {"o.jsonl": oasst(*TREE, ("x1", "gone", "prompter", "Lost?"), ("x2", "x1", "assistant", "Lost."))},
        {"input": "o.jsonl", "on_bad_record": "skip"},
        {"skipped_broken_parent_links": 1, "messages_under_broken_links": 2, "questions": ["Why?"]},
    ),
    "parent_id of the wrong type": (
        {"o.jsonl": oasst(("m1", ["a"], "prompter", "Hi?"))},
        {"input": "o.jsonl"},
        "o.jsonl:1: field 'parent_id' is an array, expected a string",
    ),
    "fields that match no format": (
        {"x.jsonl": '{"q": "a", "b": 1}\n'},
        {"input": "x.jsonl"},
        "x.jsonl:1: cannot tell the format from the fields ['b', 'q']",
    ),
    "unknown format": (
        {"docs/a.txt": OK},
        {"input": "docs", "format": "csv"},
        "params.yaml: segment.format = 'csv': should be 'auto', 'text', 'instructions' or 'dialogue'",
    ),
    # --- OpenAssistant: never a silent overwrite, never a silent cycle ---------------------
    "duplicate message_id": (
        {"o.jsonl": oasst(*DUPLICATE)},
        {"input": "o.jsonl"},
        "o.jsonl:3: message_id m1 is already used on line 1",
    ),
    "duplicate message_id, skip": (
        {"o.jsonl": oasst(*DUPLICATE)},
        {"input": "o.jsonl", "on_bad_record": "skip"},
        {"skipped_duplicate_message_ids": 1, "questions": ["Why?"]},
    ),
    "parent cycle": (
        {"o.jsonl": oasst(*CYCLE)},
        {"input": "o.jsonl"},
        "o.jsonl:3: message c1 is its own ancestor (a parent_id cycle)",
    ),
    "parent cycle, skip": (
        {"o.jsonl": oasst(*CYCLE)},
        {"input": "o.jsonl", "on_bad_record": "skip"},
        {"skipped_parent_cycles": 1, "messages_under_broken_links": 2},
    ),
    # --- choosing the files: a file or a folder, segment.include, special files -------------
    "glob as input": (
        {"docs/a.txt": OK},
        {"input": "docs/*.txt"},
        "params.yaml: segment.input = 'docs/*.txt': a glob is not an input (DVC needs a file or a folder to track); set segment.input: docs and segment.include: '*.txt'",
    ),
    "include picks files": (
        {"docs/a.txt": OK, "docs/b.md": "Only?\n", "docs/sub/c.txt": "Deep?\n\nDown.\n", "docs/d.TXT": "Upper?\n"},
        {"input": "docs", "include": "*.txt"},
        {"files": 2, "questions": ["Why?", "Upper?"]},
    ),
    "include at any depth": (
        {"docs/a.txt": OK, "docs/sub/c.md": "Deep?\n\nDown.\n"},
        {"input": "docs", "include": ["**/*.md", "a.*"]},
        {"files": 2, "questions": ["Why?", "Deep?"]},
    ),
    "include that matches nothing": (
        {"docs/a.txt": OK},
        {"input": "docs", "include": "*.csv"},
        "docs: no file in the folder matches segment.include (*.csv)",
    ),
    "include outside the folder": (
        {"docs/a.txt": OK},
        {"input": "docs", "include": "../*.txt"},
        "params.yaml: segment.include = '../*.txt': give one or more glob patterns relative",
    ),
    "named pipe in the folder": (
        {"docs/a.txt": OK, "docs/pipe.txt": FIFO},
        {"input": "docs"},
        {"skipped_special_files": 1, "files": 1},
    ),
    "named pipe as input": (
        {"docs/pipe.txt": FIFO},
        {"input": "docs/pipe.txt"},
        "docs/pipe.txt: is a named pipe, not a regular file",
    ),
    "socket in the folder": ({"docs/a.txt": OK, "docs/s.txt": SOCKET}, {"input": "docs"}, {"skipped_special_files": 1}),
    "dangling symlink in the folder": (
        {"docs/a.txt": OK, "docs/l.txt": Link("gone.txt")},
        {"input": "docs"},
        "docs/l.txt: symlink to gone.txt, which does not exist",
    ),
    "dangling symlink as input": (
        {"l.txt": Link("gone.txt")},
        {"input": "l.txt"},
        "l.txt: symlink to gone.txt, which does not exist",
    ),
    "symlink loop": (
        {"docs/a.txt": OK, "docs/loop.txt": Link("loop.txt")},
        {"input": "docs"},
        "docs/loop.txt: cannot access it (Too many levels of symbolic links)",
    ),
    "folder named like a file": ({"docs/notes.txt/a.txt": OK}, {"input": "docs"}, {"files": 1, "questions": ["Why?"]}),
    "file name not UTF-8": (
        {b"docs/bad\xff.txt": OK},
        {"input": "docs"},
        {"escaped_file_names": 1, "docs": {"docs/bad\\xff.txt"}},
    ),
    "file name with a newline": ({"docs/a\nb.txt": b"\xff"}, {"input": "docs"}, "docs/a\\nb.txt:1: not valid UTF-8"),
    # --- JSON edge cases --------------------------------------------------------------------
    "JSON file holding a number": (
        {"n.json": "42"},
        {"input": "n.json"},
        "n.json: holds a number; expected an array of records, or an object",
    ),
    "JSON file holding null": ({"n.json": "null"}, {"input": "n.json"}, "n.json: holds null; expected an array of records"),
    "JSON file holding a string": (
        {"n.json": '"text"'},
        {"input": "n.json"},
        "n.json: holds a string; expected an array of records",
    ),
    "JSON array item not an object": (
        {"a.json": f"[1, {QA}]"},
        {"input": "a.json"},
        "a.json:1: expected a JSON object, got a number",
    ),
    "records under a key": ({"w.json": f'{{"version": 1, "data": [{QA}, {QA2}]}}'}, {"input": "w.json", **J}, {"gold_pairs": 2}),
    "records under a named key": (
        {"w.json": f'{{"meta": [], "rows": [{QA}, {QA2}]}}'},
        {"input": "w.json", "fields": {"records": "rows"}, **J},
        {"gold_pairs": 2},
    ),
    "records key missing": (
        {"w.json": f"[{QA}]"},
        {"input": "w.json", "fields": {"records": "rows"}},
        "w.json: expected an object with a list of records under 'rows' (segment.fields.records), got an array",
    ),
    "200k nested brackets (.json)": (
        {"deep.json": DEEP},
        {"input": "deep.json"},
        "deep.json: JSON nested too deeply to read; fix the file",
    ),
    "200k nested brackets (.jsonl)": (
        {"d.jsonl": QA + DEEP + "\n"},
        {"input": "d.jsonl"},
        "d.jsonl:2: JSON nested too deeply to read",
    ),
    "5000-digit integer": (
        {"d.jsonl": QA + f'{{"n": {BIG_INT}}}\n'},
        {"input": "d.jsonl"},
        "d.jsonl:2: unreadable JSON (Exceeds the limit (4300 digits) for integer string conversion",
    ),
    "5000-digit integer, skip": (
        {"d.jsonl": QA + f'{{"n": {BIG_INT}}}\n' + QA2},
        {"input": "d.jsonl", "on_bad_record": "skip", **J},
        {"skipped_malformed_lines": 1},
    ),
    "lone surrogate": (
        {"d.jsonl": '{"instruction": "Why\\ud800?", "response": "Be\\udfffcause."}\n' + QA2},
        {"input": "d.jsonl", **J},
        {"lone_surrogates_removed": 2, "questions": ["Why?"]},
    ),
    "NUL escapes in JSON": (
        {"d.jsonl": '{"instruction": "Why?\\u0000", "response": "\\u0000"}\n' + QA + QA2},
        {"input": "d.jsonl", **J},
        {"nul_chars_removed": 2, "empty_pairs": 1},
    ),
    "line separator inside a JSON string": (
        {"d.jsonl": '{"instruction": "Why\u2028?", "response": "Because\u0085."}\n' + QA2},
        {"input": "d.jsonl", **J},
        {"gold_pairs": 2},
    ),
    # --- encodings and invisible text -------------------------------------------------------
    "UTF-8 BOM (text)": ({"a.txt": "\ufeff" + OK}, {"input": "a.txt"}, {"questions": ["Why?"]}),
    "UTF-8 BOM (JSONL)": ({"d.jsonl": "\ufeff" + QA + QA2}, {"input": "d.jsonl", **J}, {"gold_pairs": 2}),
    "UTF-16 LE with BOM": ({"a.txt": OK.encode("utf-16")}, {"input": "a.txt"}, {"questions": ["Why?"], "answers": ["Because."]}),
    "UTF-16 BE with BOM": ({"a.txt": b"\xfe\xff" + OK.encode("utf-16-be")}, {"input": "a.txt"}, {"questions": ["Why?"]}),
    "UTF-32 with BOM": ({"a.txt": OK.encode("utf-32")}, {"input": "a.txt"}, {"questions": ["Why?"]}),
    "UTF-16 cut in half": ({"a.txt": OK.encode("utf-16")[:-1]}, {"input": "a.txt"}, "a.txt:3: not valid UTF-16 (byte 30)"),
    "NUL characters in text": (
        {"a.txt": "Why?\n\n" + "x " * 5000 + "\n\nBecause.\x00\x00\n"},
        {"input": "a.txt", "max_chars": 20000},
        {"nul_chars_removed": 2, "answers": ["x " * 4999 + "x", "Because."]},
    ),
    "zero-width paragraphs": (
        {"a.txt": "Why?\n\n\u200b\u200c\n\u2060 \ufeff\n\nBecause.\n"},
        {"input": "a.txt"},
        {"dropped_empty_paragraphs": 1, "answers": ["Because."]},
    ),
    "Unicode-space lines separate paragraphs": (
        {"a.txt": "Why?\n\u00a0\u00a0\nBecause.\n\u3000\nAlso.\n"},
        {"input": "a.txt"},
        {"questions": ["Why?"], "answers": ["Because.", "Also."]},
    ),
    # --- params -----------------------------------------------------------------------------
    "max_chars 0": (
        {"a.txt": OK},
        {"input": "a.txt", "max_chars": 0},
        "params.yaml: segment.max_chars = 0: should be greater than or equal to 1",
    ),
    "max_chars negative": (
        {"a.txt": OK},
        {"input": "a.txt", "max_chars": -5},
        "params.yaml: segment.max_chars = -5: should be greater than or equal to 1",
    ),
}
OUTS = segment_outputs("out")


def build(root, files: dict) -> None:
    for rel, content in files.items():
        path = root / os.fsdecode(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FIFO:
            os.mkfifo(path)
        elif content is SOCKET:
            server = socket.socket(socket.AF_UNIX)
            server.bind(str(path))
            server.close()  # the socket file stays
        elif isinstance(content, Link):
            path.symlink_to(content)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _timeout(signum, frame):
    raise TimeoutError("the stage hung (did it open a named pipe?)")


@pytest.mark.parametrize("case", CASES)
def test_hostile_input_gives_one_error_line_or_a_counted_skip(case, tmp_path, monkeypatch):
    files, params, expected = CASES[case]
    build(tmp_path, files)
    write_params(tmp_path, {"segment": params})
    monkeypatch.chdir(tmp_path)
    previous = signal.signal(signal.SIGALRM, _timeout)  # a stage that opened a named pipe would block forever
    signal.alarm(20)
    try:
        result = CliRunner().invoke(command, OUTS, catch_exceptions=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert "Traceback" not in result.output
    out = tmp_path / "out"
    if isinstance(expected, str):
        assert result.exit_code == 1, result.output
        assert result.stderr.splitlines() == [result.stderr.strip()] and result.stderr.startswith(f"error: {expected}"), (
            result.stderr
        )
        assert not out.exists() or not any(out.iterdir())
        return
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "m.json").read_text(encoding="utf-8"))
    records = {
        side: [json.loads(line) for line in (out / f"{side}.jsonl").read_text(encoding="utf-8").split("\n") if line]
        for side in "qa"
    }
    for key, value in expected.items():
        if key == "questions":
            assert [r["instruction"] for r in records["q"]] == value
        elif key == "answers":
            assert [r["response"] for r in records["a"]] == value
        elif key == "docs":
            assert {r["source"]["doc"] for r in records["q"] + records["a"]} == value
        else:
            assert metrics.get(key) == value, metrics


def test_named_pipe_never_hangs_the_real_stage(tmp_path):
    """The stage script as DVC runs it: a FIFO in the input folder is skipped, one given alone refused."""
    build(tmp_path, {"docs/a.txt": OK, "docs/pipe.txt": FIFO})
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for params, code in (({"input": "docs"}, 0), ({"input": "docs/pipe.txt"}, 1)):
        write_params(tmp_path, {"segment": params})
        result = subprocess.run(
            [sys.executable, str(ROOT / "stages" / "segment.py"), *OUTS],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == code and "Traceback" not in result.stderr, result.stderr
    assert (
        result.stderr == "error: docs/pipe.txt: is a named pipe, not a regular file; point segment.input at a file or a folder\n"
    )
    assert json.loads((tmp_path / "out/m.json").read_text())["skipped_special_files"] == 1


def without_permission_override():
    """Run in the child before exec: a process of root's loses the capabilities that let it read and
    search whatever the file modes say (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a chmod 000 file is
    unreadable to it as to any user. (Not a switch to user nobody: this python lives under /root.)"""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # PR_CAPBSET_DROP: gone from the bounding set, so from the process after exec
        if libc.prctl(24, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {capability}) failed")


def test_an_unreadable_file_is_one_error_line_even_for_root(tmp_path):
    """README's bad-input table: a file in the corpus that cannot be read (chmod 000) stops the real
    stage with one line naming it. CI runs as root, who reads any file: the stage runs without that power."""
    build(tmp_path, {"docs/a.txt": OK, "docs/b.txt": OK})
    (tmp_path / "docs/b.txt").chmod(0o000)
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "segment.py"), *OUTS],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=60,
        preexec_fn=without_permission_override if os.geteuid() == 0 else None,
    )
    assert result.returncode == 1 and result.stderr == (
        "error: docs/b.txt: cannot read it (Permission denied); check that it exists and is readable, or remove it\n"
    ), result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
