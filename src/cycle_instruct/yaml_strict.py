"""YAML the user writes (params.yaml), read strictly: no anchors or aliases, no duplicate keys.

Aliases let a few lines stand for gigabytes (nine levels of nine `*a` are 387 million strings:
validating them took 3 GB within a minute), so the first anchor or alias is refused, before
anything is built. A duplicate key silently wins over the first in PyYAML while DVC refuses
the file; it is refused here too. Every refusal is one line naming the file and line.
"""

from pathlib import Path

import yaml

from .errors import UserError


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that raises on an anchor (&name), an alias (*name) or a key given twice in a mapping."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        alias = isinstance(event, yaml.AliasEvent)
        if alias or getattr(event, "anchor", None) is not None:
            what = f"alias *{event.anchor}" if alias else f"anchor &{event.anchor}"
            raise _Refused(
                event.start_mark,
                f"{what}: anchors and aliases are not allowed (a few of them can expand to gigabytes); write the value out",
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if (type(key), key) in seen:
                    raise _Refused(
                        key_node.start_mark,
                        f"key {key!r} is given twice in this mapping (first on line {seen[type(key), key]}); keep one",
                    )
                seen[type(key), key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


class _Refused(yaml.YAMLError):
    def __init__(self, mark, message):
        super().__init__(message)
        self.line, self.message = mark.line + 1, message


def load(path) -> object:
    """The file's YAML, or a one-line UserError `<path>:<line>: ...` for what StrictLoader refuses
    and for YAML syntax errors."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=StrictLoader)  # a SafeLoader subclass
    except _Refused as e:
        raise UserError(f"{path}:{e.line}: {e.message}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: not valid YAML ({e.problem or e.context}); fix the file") from None
    except yaml.YAMLError as e:
        raise UserError(
            f"{path}: not valid YAML ({str(e).splitlines()[0] if str(e) else type(e).__name__}); fix the file"
        ) from None
    except RecursionError:
        raise UserError(f"{path}: nested too deeply to read; params.yaml needs a few levels at most") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not valid UTF-8 (byte {e.start}); save it as UTF-8") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror}); check that it is a readable file") from None
