"""Which files segment.input names: the file itself, or the regular files of a folder that match segment.include."""

import os
import re
import stat
from collections import Counter
from pathlib import Path

from .errors import UserError
from .text import show

SPECIAL_FILES = {stat.S_IFIFO: "named pipe", stat.S_IFSOCK: "socket", stat.S_IFCHR: "device", stat.S_IFBLK: "device"}
_GLOB = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


def find_inputs(spec: str, include: str | list[str], stats: Counter, follow_symlinks: bool = False) -> list[Path]:
    """A file, or the files of a folder (recursively) whose path relative to it matches segment.include.

    Special files (named pipes, sockets, devices) are skipped and counted, never opened:
    reading a named pipe blocks forever. Symlinked folders are not followed (no loops); a symlinked
    file that leads out of the folder (`ln -s /etc/shadow`) is skipped and counted unless
    segment.follow_symlinks says to read it.
    """
    path = Path(spec)
    if not path.is_dir():
        return [path] if _regular(path, stats, alone=True) else []
    patterns = [include] if isinstance(include, str) else include
    wanted = re.compile("|".join(f"(?:{_glob_regex(p)})" for p in patterns), re.IGNORECASE)

    def unreadable(e: OSError):
        raise UserError(f"{show(e.filename)}: cannot read the folder ({e.strerror}); fix its permissions or remove it")

    files, outside, roots = [], [], [os.path.realpath(path), *_dvc_caches()]
    for folder, _, names in os.walk(path, onerror=unreadable):
        for name in names:
            file = Path(folder, name)
            if not wanted.fullmatch(file.relative_to(path).as_posix()):
                continue
            target = os.path.realpath(file)
            if not follow_symlinks and file.is_symlink() and not any(os.path.commonpath([r, target]) == r for r in roots):
                outside.append(show(file.relative_to(path)))
            elif _regular(file, stats):
                files.append(file)
    if outside:
        one = len(outside) == 1
        print(
            f"warning: {show(spec)}: {len(outside)} symlink{'' if one else 's'} to {'a file' if one else 'files'} outside the folder skipped "
            f"({', '.join(sorted(outside))}); set segment.follow_symlinks: true to read {'it' if one else 'them'}",
            flush=True,
        )
        stats["skipped_outside_symlinks"] += len(outside)
        stats["skipped_outside_symlink_files"] = sorted(outside)
    if not files and outside:
        raise UserError(
            f"{show(spec)}: every matching file is a symlink that leads out of the folder ({len(outside)} skipped); "
            "set segment.follow_symlinks: true to read them"
        )
    if not files:
        raise UserError(
            f"{show(spec)}: no file in the folder matches segment.include ({', '.join(patterns)}); put your corpus there or change segment.include"
        )
    return sorted(files)


def _glob_regex(pattern: str) -> str:
    """A glob over '/'-separated paths as a regex: * ? [..] stay within a folder, **/ spans folders."""
    parts = re.split(r"(\*\*/|\*\*|\*|\?|\[!?[^\]/]+\])", pattern.removeprefix("./"))  # odd items: wildcards
    return "".join(
        _GLOB.get(t, "[^" + t[2:] if t.startswith("[!") else t) if i % 2 else re.escape(t) for i, t in enumerate(parts)
    )


def _regular(path: Path, stats: Counter, alone: bool = False) -> bool:
    """Whether `path` is a regular file to read (checked with stat, without opening it)."""
    try:
        mode = path.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        if path.is_symlink():
            raise UserError(f"{show(path)}: symlink to {show(os.readlink(path))}, which does not exist; fix or remove the link")
        raise UserError(f"{show(path)}: no such file or folder; set segment.input in params.yaml to your corpus")
    except OSError as e:
        raise UserError(f"{show(path)}: cannot access it ({e.strerror}); check the path and its permissions")
    if stat.S_ISREG(mode):
        return True
    kind = SPECIAL_FILES.get(stat.S_IFMT(mode), "special file")
    if alone:
        raise UserError(f"{show(path)}: is a {kind}, not a regular file; point segment.input at a file or a folder")
    print(f"warning: {show(path)}: {kind} skipped (not a regular file)", flush=True)
    stats["skipped_special_files"] += 1
    return False


def _dvc_caches() -> list[str]:
    """The project's DVC cache (.dvc/cache, or cache.dir of .dvc/config): a corpus that DVC tracks with
    cache.type symlink is a folder of links into it, and they are the corpus, not files from elsewhere."""
    import configparser

    caches = [os.path.realpath(".dvc/cache")]
    for name in (".dvc/config", ".dvc/config.local"):
        config = configparser.ConfigParser()
        try:
            config.read(name, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError):
            continue
        if config.has_option("cache", "dir"):
            caches.append(os.path.realpath(os.path.join(".dvc", config.get("cache", "dir"))))
    return caches
