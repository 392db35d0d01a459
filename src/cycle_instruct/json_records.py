"""JSON decoding: the records of a .jsonl or .json file, each an object with its line number."""

import json
import re

from .corpus import Reading, kind
from .errors import UserError
from .formats import detect
from .text import clean, printable

_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # JSON escapes of NUL or of a surrogate


def records(reading: Reading, name: str, text: str, suffix: str):
    """(line number, object) for each record; the items of a .json array count as lines.

    Strings are cleaned of NUL and lone surrogates (only JSON escapes can make them).
    """
    values = enumerate(json_array(name, text, reading.fields), 1) if suffix == ".json" else jsonl(reading, name, text)
    escapes = _ESCAPE.search(text)
    for n, value in values:
        if not isinstance(value, dict):
            reading.bad(name, n, f"expected a JSON object, got {kind(value)}", "malformed_lines")
            continue
        try:
            value = _clean(value, reading.corpus.stats) if escapes else value
        except RecursionError as e:
            reading.bad(name, n, _why(e), "malformed_lines")
            continue
        yield n, value


def jsonl(reading: Reading, name: str, text: str):
    """(line number, value) for each non-blank line; a line that is not JSON is bad."""
    for n, line in enumerate(text.split("\n"), 1):  # not splitlines(): U+2028 and friends are valid inside JSON strings
        if line.strip():
            try:
                yield n, json.loads(line)
            except (ValueError, RecursionError) as e:
                reading.bad(name, n, _why(e), "malformed_lines")


def json_array(name: str, text: str, fields: dict) -> list:
    """The records of a .json file: an array, or the array under segment.fields.records."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{name}:{e.lineno}: not valid JSON ({e.msg}); fix the file")
    except (ValueError, RecursionError) as e:
        raise UserError(f"{name}: {_why(e)}; fix the file")
    key = fields["records"]
    if key:
        if isinstance(data, dict) and isinstance(data.get(key), list):
            return data[key]
        raise UserError(
            printable(
                f"{name}: expected an object with a list of records under '{key}' (segment.fields.records), got {kind(data)}{' without it' if isinstance(data, dict) else ''}; fix the file or segment.fields.records"
            )
        )
    if isinstance(data, list):
        return data
    if isinstance(data, dict):  # one record, or {"data": [...]}: records under its only list
        lists = [v for v in data.values() if isinstance(v, list)]
        return lists[0] if len(lists) == 1 and detect(data, fields) is None else [data]
    raise UserError(
        f"{name}: holds {kind(data)}; expected an array of records, or an object with the records under a key (set segment.fields.records)"
    )


def _clean(value, stats):
    """Every string of a record, keys too, without NUL and lone surrogates."""
    if isinstance(value, str):
        return clean(value, stats)
    if isinstance(value, list):
        return [_clean(v, stats) for v in value]
    if isinstance(value, dict):
        return {_clean(k, stats): _clean(v, stats) for k, v in value.items()}
    return value


def _why(e: Exception) -> str:
    """What json.loads did not like, in one line."""
    if isinstance(e, json.JSONDecodeError):
        return f"malformed JSON ({e.msg} at column {e.colno})"
    if isinstance(e, RecursionError):
        return "JSON nested too deeply to read"
    return f"unreadable JSON ({str(e).split(';')[0]})"  # e.g. an integer over Python's 4300-digit limit
