"""Prompts are template files (prompts/<name>.txt): checked on load, one line per mistake."""

import pytest
from click.testing import CliRunner

from cycle_instruct.errors import UserError
from cycle_instruct.prompts import PLACEHOLDERS, PROMPTS_DIR, backward_messages, load_prompts, shipped_prompts

from conftest import write_params


def test_every_shipped_prompt_loads_with_exactly_its_placeholders():
    prompts = shipped_prompts()
    assert set(prompts.templates) == set(PLACEHOLDERS) == {p.stem for p in PROMPTS_DIR.glob("*.txt")}
    assert backward_messages(prompts, "Paris.")[0]["content"].count("Paris.") == 1


BROKEN = {  # file name, template -> the one line it must give
    "missing placeholder": ("backward.txt", "Write the question.", "backward.txt: missing placeholder {response}"),
    "unknown placeholder": (
        "forward.txt",
        "{question} {answer}",
        "forward.txt: unknown placeholder {answer}; this prompt takes only {question}",
    ),
    "unbalanced brace": ("judge.txt", "{instruction} {response} {", "judge.txt: broken template (Single '{' encountered"),
    "format spec": ("forward.txt", "{question:>10}", "forward.txt: placeholders take no format spec"),
    "positional field": ("forward.txt", "{question} {0}", "forward.txt: placeholders take no format spec or index"),
    "unknown prompt name": ("summarise.txt", "{text}", "summarise.txt: not a prompt this pipeline knows"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_template_is_one_line_naming_the_file(case, tmp_path):
    name, text, message = BROKEN[case]
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError) as e:
        load_prompts([tmp_path / name])
    assert str(e.value).startswith(str(tmp_path / name)) and message in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_literal_braces_are_written_doubled(tmp_path):
    (tmp_path / "forward.txt").write_text('Answer as JSON {{"answer": ...}}: {question}\n')
    assert load_prompts([tmp_path / "forward.txt"]).fill("forward", question="Why?") == 'Answer as JSON {"answer": ...}: Why?'


def test_a_stage_given_a_broken_prompt_stops_before_loading_anything(tmp_path, monkeypatch):
    from cycle_instruct.steps.relabel import command

    (tmp_path / "forward.txt").write_text("Answer this: {qestion}")
    write_params(tmp_path, {})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        command,
        [
            "--iteration",
            "1",
            "--base",
            "no-base",
            "--adapter",
            "none",
            "--records",
            "q.jsonl",
            "--out",
            "out.jsonl",
            "--prompts",
            "forward.txt",
            "--metrics",
            "m.json",
        ],
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == "error: forward.txt: missing placeholder {question}; the template must use {question}"
    assert not (tmp_path / "out.jsonl").exists()
