"""Input: the files of segment.input, each read into the corpus: a document by the reader of its
suffix (readers/), a .jsonl/.json file as records in segment.format (formats.py)."""

from pathlib import Path

from . import readers
from .corpus import Corpus, Reading
from .errors import UserError
from .formats import FORMATS, document, format_of
from .inputs import find_inputs
from .json_records import records
from .text import BinaryFile, clean, read_document, show

JSON_SUFFIXES = (".jsonl", ".json")


def load_corpus(cfg) -> Corpus:
    """Read segment.input in segment.format; bad records raise (or are counted, per params)."""
    reading = Reading(cfg)
    paths = find_inputs(cfg.input, cfg.include, reading.corpus.stats, cfg.follow_symlinks)
    for path in paths:
        try:
            read_file(reading, path)
        except BinaryFile:
            if len(paths) == 1:
                raise
            print(f"warning: {show(path)}: binary file skipped", flush=True)
            reading.corpus.stats["skipped_binary_files"] += 1
    if not reading.corpus.items and len(paths) == 1 and reading.corpus.stats["empty_files"]:
        raise UserError(f"{show(paths[0])}: file is empty; point segment.input at your corpus")
    return reading.corpus


def read_file(reading: Reading, path: Path) -> None:
    """One file into the corpus; `name` (the path, made printable) is what records and messages show."""
    stats, fmt = reading.corpus.stats, reading.cfg.format
    stats["files"] += 1
    name = show(path)
    if name != str(path):
        print(f"warning: {name}: file name is not printable UTF-8; recorded as shown", flush=True)
        stats["escaped_file_names"] += 1
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES and fmt not in ("auto", "text"):
        raise UserError(f"{name}: segment.format '{fmt}' needs .jsonl or .json files; set segment.format: text for plain text")
    text = read_document(path)
    if not text:
        stats["empty_files"] += 1
        return
    if suffix not in JSON_SUFFIXES:
        document(reading, clean(text, stats), {"doc": name}, readers.markup_of(suffix))
        return
    found = list(records(reading, name, text, suffix))
    if not found:
        stats["empty_files"] += 1
        return
    FORMATS[format_of(fmt, name, found[0][1], reading.fields)](reading, name, found)
