"""Hostile input, second round (issue 32): links out of the corpus folder, YAML bombs in params.yaml,
a segment.input that is a system folder or the pipeline's own outputs, and smaller reader slips.

Each case runs the real stage script (or `cycle-instruct check`) the way a user or DVC does.
"""

import json
import os
import sys

import pytest

from conftest import ROOT, run_stage, write_params

OUTS = ["--questions", "out/q.jsonl", "--answers", "out/a.jsonl", "--gold", "out/g.jsonl", "--test", "out/t.jsonl", "--metrics", "out/m.json"]
SECRET = "root:$y$j9T$Q0bXqVh2$secret-hash-of-the-admin:19700:0:99999:7:::"


def corpus(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def answers(root) -> list[str]:
    return [json.loads(line)["response"] for line in (root / "out/a.jsonl").read_text(encoding="utf-8").splitlines()]


# --- 1. symlinks out of the input folder -----------------------------------------------------


def test_a_symlink_to_a_file_outside_the_input_folder_is_skipped_and_counted(tmp_path):
    corpus(tmp_path, {"docs/faq.txt": "How do I reset my password?\n\nOpen Settings and choose Reset.\n", "private/shadow": SECRET + "\n"})
    (tmp_path / "docs/links").mkdir()
    (tmp_path / "docs/links/shadow.txt").symlink_to(tmp_path / "private/shadow")  # absolute, as `ln -s /etc/shadow` makes
    (tmp_path / "docs/links/faq-copy.txt").symlink_to("../faq.txt")  # inside the folder: read
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not any("secret-hash" in a for a in answers(tmp_path))
    metrics = json.loads((tmp_path / "out/m.json").read_text())
    assert answers(tmp_path) == ["Open Settings and choose Reset."] and metrics["files"] == 2  # the link inside is read (its copy deduplicated)
    assert metrics["skipped_outside_symlinks"] == 1 and metrics["skipped_outside_symlink_files"] == ["links/shadow.txt"]
    assert "warning: docs: 1 symlink to a file outside the folder skipped (links/shadow.txt); set segment.follow_symlinks: true to read it" in result.stdout

    write_params(tmp_path, {"segment": {"input": "docs", "follow_symlinks": True}})  # the user's explicit choice
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert SECRET in answers(tmp_path) and "skipped_outside_symlinks" not in json.loads((tmp_path / "out/m.json").read_text())
