"""Hostile input, second round (issue 32): links out of the corpus folder, YAML bombs in params.yaml,
a segment.input that is a system folder or the pipeline's own outputs, and smaller reader slips.

Each case runs the real stage script (or `cycle-instruct check`) the way a user or DVC does.
"""

import json
import os
import resource
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, run_stage, segment_outputs, write_params

OUTS = segment_outputs("out")
SECRET = "root:$y$j9T$Q0bXqVh2$secret-hash-of-the-admin:19700:0:99999:7:::"


def corpus(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def answers(root) -> list[str]:
    return [json.loads(line)["response"] for line in (root / "out/a.jsonl").read_text(encoding="utf-8").splitlines()]


# --- 1. symlinks out of the input folder -----------------------------------------------------


def test_a_symlink_to_a_file_outside_the_input_folder_is_skipped_and_counted(tmp_path):
    corpus(
        tmp_path,
        {"docs/faq.txt": "How do I reset my password?\n\nOpen Settings and choose Reset.\n", "private/shadow": SECRET + "\n"},
    )
    (tmp_path / "docs/links").mkdir()
    (tmp_path / "docs/links/shadow.txt").symlink_to(tmp_path / "private/shadow")  # absolute, as `ln -s /etc/shadow` makes
    (tmp_path / "docs/links/faq-copy.txt").symlink_to("../faq.txt")  # inside the folder: read
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not any("secret-hash" in a for a in answers(tmp_path))
    metrics = json.loads((tmp_path / "out/m.json").read_text())
    assert (
        answers(tmp_path) == ["Open Settings and choose Reset."] and metrics["files"] == 2
    )  # the link inside is read (its copy deduplicated)
    assert metrics["skipped_outside_symlinks"] == 1 and metrics["skipped_outside_symlink_files"] == ["links/shadow.txt"]
    assert (
        "warning: docs: 1 symlink to a file outside the folder skipped (links/shadow.txt); set segment.follow_symlinks: true to read it"
        in result.stdout
    )

    write_params(tmp_path, {"segment": {"input": "docs", "follow_symlinks": True}})  # the user's explicit choice
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert SECRET in answers(tmp_path) and "skipped_outside_symlinks" not in json.loads((tmp_path / "out/m.json").read_text())


def test_a_corpus_dvc_tracks_with_symlinks_into_its_cache_is_read(tmp_path):
    """cache.type: symlink makes every file of a tracked folder a link into .dvc/cache: that is the corpus itself."""
    corpus(tmp_path, {".dvc/cache/files/md5/ab/cdef": "How do I reset my password?\n\nOpen Settings and choose Reset.\n"})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/faq.txt").symlink_to(tmp_path / ".dvc/cache/files/md5/ab/cdef")
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert answers(tmp_path) == ["Open Settings and choose Reset."]


def test_a_folder_of_only_outside_symlinks_says_so(tmp_path):
    corpus(tmp_path, {"private/faq.txt": "How do I reset my password?\n\nOpen Settings and choose Reset.\n"})
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/faq.txt").symlink_to(tmp_path / "private/faq.txt")
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: docs: every matching file is a symlink that leads out of the folder (1 skipped); "
        "set segment.follow_symlinks: true to read them"
    )


# --- 2. YAML bombs and duplicate keys in params.yaml ------------------------------------------

BOMB = (
    "lol:\n  l0: &l0 ["
    + ", ".join(['"lol"'] * 9)
    + "]\n"
    + "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9))
)
LIMIT = 2 << 30  # bytes of address space: the old loader ran past 3 GB on BOMB within a minute


def limited(command: list[str], cwd) -> subprocess.CompletedProcess:
    """Run a command that must not eat the machine if the bomb goes off: 2 GiB of address space, 60 s."""

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, env=env, preexec_fn=cap, timeout=60)


def check(cwd) -> subprocess.CompletedProcess:
    return limited([sys.executable, "-m", "cycle_instruct.cli", "check"], cwd)


def bombed_params(tmp_path, used: bool) -> None:
    """BOMB as an unknown top-level key, and (used) expanded into segment.include: 9^9 = 387 million strings."""
    path = write_params(tmp_path, {"segment": {"input": "docs", "include": "BOMB" if used else "*.txt"}})
    path.write_text(BOMB + path.read_text().replace("include: BOMB", "include: *l8"))


@pytest.mark.parametrize("used", [True, False], ids=["expanded", "unknown key"])
def test_a_yaml_bomb_in_params_is_refused_before_it_expands(tmp_path, used):
    corpus(tmp_path, {"docs/faq.txt": "Why?\n\nBecause.\n"})
    bombed_params(tmp_path, used)
    line = "error: params.yaml:2: anchor &l0: anchors and aliases are not allowed (a few of them can expand to gigabytes); write the value out"
    result = check(tmp_path)
    assert result.returncode == 1 and result.stderr.splitlines() == [line], result.stderr[-2000:]
    result = limited([sys.executable, str(ROOT / "stages" / "segment.py"), *OUTS], tmp_path)
    assert result.returncode == 1 and result.stderr.splitlines() == [line], result.stderr[-2000:]
    assert not (tmp_path / "out").exists()


def test_a_key_given_twice_in_params_is_refused_with_both_lines(tmp_path):
    path = write_params(tmp_path, {})
    text = path.read_text()
    first = text.splitlines().index("  seed: 0", text.splitlines().index("segment:")) + 1
    path.write_text(
        text.replace("  on_bad_record: error", "  on_bad_record: error\n  seed: 7", 1)
    )  # last-wins made it 7, silently
    result = check(tmp_path)
    second = path.read_text().splitlines().index("  seed: 7") + 1
    assert (
        result.returncode == 1
        and result.stderr
        == f"error: params.yaml:{second}: key 'seed' is given twice in this mapping (first on line {first}); keep one\n"
    )


def test_an_alias_without_its_anchor_and_a_syntax_error_name_the_line(tmp_path):
    path = write_params(tmp_path, {})
    path.write_text(path.read_text().replace("  seed: 0\n", "  seed: *s\n", 1))
    line = check(tmp_path).stderr
    assert (
        line.startswith("error: params.yaml:")
        and "alias *s: anchors and aliases are not allowed" in line
        and line.count("\n") == 1
    )
    path.write_text("model:\n  base: [smollm2\n")
    assert check(tmp_path).stderr.startswith(
        "error: params.yaml:3: not valid YAML (expected ',' or ']', but got '<stream end>'); fix the file"
    )


# --- 3. segment.input that is the system or the pipeline's own outputs ------------------------

SYSTEM = (
    "is a system folder or holds one, not a corpus (its files could hold passwords and keys); point it at your corpus's folder"
)
OUTPUTS = (
    "overlaps the pipeline's outputs ({}), so the stages would read what they write; point it at your corpus, such as data/raw"
)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("/", SYSTEM),
        ("/etc", SYSTEM),
        ("/etc/ssh", SYSTEM),
        ("/usr/", SYSTEM),
        ("/proc/self", SYSTEM),
        ("/dev/stdin", SYSTEM),
        ("/home", SYSTEM),
        ("~", SYSTEM),
        ("data", OUTPUTS.format("data/models")),
        ("data/segments", OUTPUTS.format("data/segments")),
        ("data/iterations/1", OUTPUTS.format("data/iterations")),
        ("metrics", OUTPUTS.format("metrics")),
        (".", OUTPUTS.format("data/models")),
        ("eval", OUTPUTS.format("eval/data")),
    ],
)
def test_segment_input_that_is_the_system_or_our_outputs_is_one_line_from_check_and_the_stage(tmp_path, value, why):
    value = os.path.expanduser(value)
    write_params(tmp_path, {"segment": {"input": value}})
    line = f"error: params.yaml: segment.input = {value!r}: {why}"
    result = check(tmp_path)
    assert result.returncode == 1 and result.stderr.splitlines() == [line], result.stderr
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.splitlines() == [line], result.stderr


def test_segment_input_beside_the_outputs_or_under_usr_is_still_a_corpus(tmp_path):
    """Only the folders themselves are refused (and all of /proc, /sys, /dev, /etc, /boot): /usr/share/doc is text."""
    from cycle_instruct.params import PIPELINE_OUTPUTS

    corpus(tmp_path, {"data/raw/faq.txt": "Why?\n\nBecause.\n", "data/rawfiles/faq.txt": "Why?\n\nBecause.\n"})
    for value in ("data/raw", "data/rawfiles", "/usr/share"):
        write_params(tmp_path, {"segment": {"input": value}})
        assert check(tmp_path).returncode == 0
    outs = []  # every output of both pipelines, as a path from the project folder
    for file, prefix in (("dvc.yaml", ""), ("eval/dvc.yaml", "eval/")):
        for stage in yaml.safe_load((ROOT / file).read_text())["stages"].values():
            stage = stage.get("do", stage)
            outs += [
                prefix + (next(iter(o)) if isinstance(o, dict) else o)
                for kind in ("outs", "metrics", "plots")
                for o in stage.get(kind, [])
            ]
    outs = [o.replace("${base}", "data/models/base") for o in outs]
    assert len(outs) > 40 and all(any(o == p or o.startswith(p + "/") for p in PIPELINE_OUTPUTS) for o in outs), outs


# --- 4. smaller ones: the iconv hint, a DOCTYPE's internal subset, link reference definitions -----


def test_the_utf8_error_gives_an_iconv_command_that_converts_a_windows_file(tmp_path):
    faq = "How do I order a caf\u00e9 cr\u00e8me?\r\n\r\nAsk for \u201cone cr\u00e8me\u201d \u2013 it costs \u20ac3.\r\n"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/faq.txt").write_bytes(faq.encode("cp1252"))  # Notepad's "ANSI"
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    command = "iconv -f cp1252 -t utf-8 docs/faq.txt > docs/faq.txt.utf8 && mv docs/faq.txt.utf8 docs/faq.txt"
    assert (
        result.returncode == 1
        and result.stderr
        == f"error: docs/faq.txt:1: not valid UTF-8 (byte 20); convert the file to UTF-8, e.g. from Windows-1252: {command}\n"
    )
    subprocess.run(command, shell=True, cwd=tmp_path, check=True)  # what the user would paste
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert answers(tmp_path) == ["Ask for \u201cone cr\u00e8me\u201d \u2013 it costs \u20ac3."]


PAGE = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html [
  <!ENTITY product "Frobnicator">
  <!ENTITY version "2.1]">
]>
<html><head><title>FAQ</title></head>
<body>
<h1>Frobnicator FAQ</h1>
<p>How do I update the firmware?</p>
<p>Hold the reset button for five seconds while the device starts.</p>
</body></html>
"""

README = """# Frobnicator

How do I install the Frobnicator?

Install it with pip, then read the [user guide][guide] and the [FAQ].
[guide]: https://example.com/guide "User guide"
[FAQ]: <https://example.com/faq>
  'Frequently asked questions'

- Linux and macOS are supported, see [platforms].
[platforms]: https://example.com/platforms

[changelog]: https://example.com/changes "Changes"
"""


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("faq.html", PAGE, ["Hold the reset button for five seconds while the device starts."]),
        (
            "README.md",
            README,
            ["Install it with pip, then read the user guide and the FAQ.", "- Linux and macOS are supported, see platforms."],
        ),
    ],
    ids=["html DOCTYPE internal subset", "markdown link reference definitions"],
)
def test_markup_leaves_no_declaration_or_definition_in_the_answers(tmp_path, name, text, expected):
    corpus(tmp_path, {f"docs/{name}": text})
    write_params(tmp_path, {"segment": {"input": "docs"}})
    result = run_stage("segment.py", *OUTS, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert answers(tmp_path) == expected


def test_params_nested_thousands_deep_is_one_line_from_check(tmp_path):
    (tmp_path / "params.yaml").write_text("segment: " + "[" * 5000 + "]" * 5000 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "cycle_instruct.cli", "check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: nested too deeply to read; params.yaml needs a few levels at most"
    ]
