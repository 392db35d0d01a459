"""MkDocs hook: docs/params.md's reference tables, generated from the schema in params.py.

Each key is described once, in its pydantic Field(description=...); the table adds its type and
constraints from the schema and its value from params.yaml, so the page never needs keeping in sync.
"""

import sys
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- params-reference -->"


def _params_module():
    sys.path.insert(0, str(ROOT / "src"))  # this checkout's schema, whatever copy is installed
    try:
        from cycle_instruct import params
    finally:
        sys.path.remove(str(ROOT / "src"))
    return params


def _constraints(metadata) -> str:
    out = []
    for m in metadata:
        for name, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥")):
            value = getattr(m, name, None)
            if value is not None:
                out.append(f"{sign} {value}")
    return ", ".join(dict.fromkeys(out))


def _type(annotation, metadata=()) -> str:
    """A short, readable type: `auto`, `text` (choices), int ≥ 1, str or list of str, ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        inner = [m for a in args[1:] for m in getattr(a, "metadata", [a])]
        return _type(args[0], [*inner, *metadata])
    if origin is typing.Literal:
        text = ", ".join(f"`{a}`" for a in args)
    elif origin in (typing.Union, types.UnionType):
        text = " or ".join(_type(a) for a in args)
    elif origin is list:
        text = f"list of {_type(args[0])}"
    elif origin is dict:
        text = f"mapping of names to {_type(args[1])}"
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        text = "section"
    else:
        text = getattr(annotation, "__name__", str(annotation))
    limits = _constraints(metadata)
    return f"{text}, {limits}" if limits else text


def _value(value) -> str:
    if value is _ABSENT:
        return ""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
    text = text.removesuffix("...").strip()
    return f"`{text}`"


_ABSENT = object()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(model: type[BaseModel], values, prefix: str):
    for name, field in model.model_fields.items():
        key, value = f"{prefix}{name}", values.get(name, _ABSENT) if isinstance(values, dict) else _ABSENT
        annotation = field.annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        yield key, _type(annotation, field.metadata), "" if nested else _value(value), field.description or ""
        if nested:
            yield from _rows(annotation, value if isinstance(value, dict) else {}, f"{key}.")
        elif typing.get_origin(annotation) is dict:
            item = typing.get_args(annotation)[1]
            if isinstance(item, type) and issubclass(item, BaseModel):
                yield from _rows(item, {}, f"{key}.<name>.")


def render(params_file: Path = ROOT / "params.yaml") -> str:
    """Markdown: one table per section of params.yaml."""
    schema = _params_module().Params
    values = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    out = []
    for section, field in schema.model_fields.items():
        out += [
            f"## `{section}`",
            "",
            field.description or "",
            "",
            "| key | type | value in params.yaml | description |",
            "|---|---|---|---|",
        ]
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows = _rows(annotation, values.get(section, {}), f"{section}.")
        else:  # iterations: a mapping of names to sections
            rows = [
                (section, _type(annotation, field.metadata), _value(values.get(section, _ABSENT)), "One entry per iteration.")
            ]
            item = typing.get_args(annotation)[1]
            rows += list(_rows(item, {}, f"{section}.<name>."))
        out += [f"| `{key}` | {_cell(kind)} | {_cell(value)} | {_cell(text)} |" for key, kind, value, text in rows]
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, render(Path(config["config_file_path"]).parent / "params.yaml"))
    return markdown
