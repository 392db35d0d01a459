"""Every prompt the method uses: templates in prompts/*.txt, turned into chat messages here.

Forward model M_QA sees an ordinary single-turn chat: the user asks, the assistant
answers (with relabel.context: retrieved, after the corpus paragraphs nearest to the question). Backward model M_AQ is shown the assistant's response and asked to write the
user turn that led to it. Reformat has one prompt per side; the optional judge one more.
Each stage is given the template files it uses on its command line, so that they are its
DVC deps and editing one re-runs exactly the stages that use it.
"""

import string
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"  # this checkout's prompts/, beside dvc.yaml
PLACEHOLDERS = {  # each template file, prompts/<name>.txt, and the placeholders it must use
    "reformat_question": {"text"},
    "reformat_answer": {"text"},
    "forward": {"question"},
    "forward_grounded": {"question", "context"},  # relabel.context: retrieved
    "backward": {"response"},
    "judge": {"instruction", "response"},
}


class Filled(str):
    """A filled-in template that remembers its file, so that a prompt too long for the model names it."""

    file: str


@dataclass(frozen=True)
class Prompts:
    """The templates a stage was given (its `--prompts` files, each a DVC dep of the stage)."""

    templates: dict
    files: dict = field(default_factory=dict)  # name -> the template's file

    def fill(self, name: str, **values) -> str:
        if name not in self.templates:
            raise KeyError(f"this stage was not given prompts/{name}.txt; add it to the stage's --prompts in dvc.yaml")
        text = Filled(self.templates[name].format(**values))
        text.file = str(self.files.get(name, f"prompts/{name}.txt"))
        return text

    def preamble(self, name: str) -> str:
        """The template's wording before its first placeholder (what a model must not repeat)."""
        return self.templates[name].split("{", 1)[0]


def load_prompts(paths) -> Prompts:
    """Read and check prompt templates: plain format strings whose {placeholders} are exactly
    those their name takes (literal braces doubled: {{ }})."""
    templates, files = {}, {}
    for path in map(Path, paths):
        name = path.stem
        if name not in PLACEHOLDERS:
            raise UserError(
                f"{path}: not a prompt this pipeline knows; prompt files are named {', '.join(f'{n}.txt' for n in PLACEHOLDERS)}"
            )
        if not path.is_file():
            raise UserError(f"{path}: prompt file not found; restore it (git checkout -- {path}) or point --prompts at it")
        text = path.read_text(encoding="utf-8").rstrip("\n")
        try:
            fields = {f for _, f, spec, conv in string.Formatter().parse(text) if f is not None}
            bad = [f for _, f, spec, conv in string.Formatter().parse(text) if f is not None and (spec or conv)]
        except ValueError as e:
            raise UserError(
                f"{path}: broken template ({e}); write placeholders as {{name}} and literal braces as {{{{ and }}}}"
            ) from None
        wanted = PLACEHOLDERS[name]
        if bad or not all(f.isidentifier() for f in fields):
            raise UserError(
                f"{path}: placeholders take no format spec or index; use only {', '.join(f'{{{w}}}' for w in sorted(wanted))}"
            )
        if wanted - fields:
            raise UserError(
                f"{path}: missing placeholder {', '.join(f'{{{w}}}' for w in sorted(wanted - fields))}; the template must use {', '.join(f'{{{w}}}' for w in sorted(wanted))}"
            )
        if fields - wanted:
            raise UserError(
                f"{path}: unknown placeholder {', '.join(f'{{{f}}}' for f in sorted(fields - wanted))}; this prompt takes only {', '.join(f'{{{w}}}' for w in sorted(wanted))} (literal braces: {{{{ }}}})"
            )
        templates[name], files[name] = text, path
    return Prompts(templates, files)


def shipped_prompts(*names) -> Prompts:
    """The templates in this checkout's prompts/ (all of them, or those named)."""
    return load_prompts(PROMPTS_DIR / f"{n}.txt" for n in (names or PLACEHOLDERS))


# Used only when the tokenizer has no chat template (e.g. a plain base model).
PLAIN_USER_PREFIX = "### User:\n"
PLAIN_ASSISTANT_PREFIX = "\n\n### Assistant:\n"

# Text that must never appear in a generation: role headers and template markers.
ROLE_TAG_PATTERNS = (
    r"<\|[a-z_]+\|>",  # <|im_start|>, <|endoftext|>, <|eot_id|> ...
    r"^\s*(user|assistant|system)\s*$",  # ChatML role line
    r"^\s*#{2,}\s*(user|assistant|instruction|response)\s*:?\s*$",
    r"^\s*(user|assistant)\s*:",
    r"\[/?INST\]",
)


def user_turn(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


def reformat_messages(prompts: Prompts, text: str, side: str) -> list[dict]:
    return user_turn(prompts.fill("reformat_question" if side == "instruction" else "reformat_answer", text=text))


def forward_messages(prompts: Prompts, question: str, context: str | None = None) -> list[dict]:
    """M_QA's input: the question as the user's turn; with `context` (retrieved corpus paragraphs),
    the grounded template that puts them before it."""
    if context is None:
        return user_turn(prompts.fill("forward", question=question))
    return user_turn(prompts.fill("forward_grounded", question=question, context=context))


def backward_messages(prompts: Prompts, response: str) -> list[dict]:
    """M_AQ's input: the response, with the request to write the user turn behind it."""
    return user_turn(prompts.fill("backward", response=response))


def render_prompt(tokenizer, messages: list[dict]) -> str:
    """The text the model sees before it starts its reply."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PLAIN_USER_PREFIX + messages[-1]["content"] + PLAIN_ASSISTANT_PREFIX


def prompt_ids(tokenizer, prompt: str | list[str]) -> list[int] | list[list[int]]:
    """The token ids of a prompt from render_prompt (of each, for a list: one batched call): a chat
    template writes its own special tokens (BOS), so the tokenizer adds them only to a plain prompt.
    Generation, its length check and training all use it."""
    plain = not getattr(tokenizer, "chat_template", None)
    return tokenizer(prompt, add_special_tokens=plain)["input_ids"]


def judge_messages(prompts: Prompts, instruction: str, response: str) -> list[dict]:
    """The optional local-model judge of a pair's relevance."""
    return user_turn(prompts.fill("judge", instruction=instruction, response=response))
