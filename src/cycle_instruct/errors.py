"""One kind of error for everything a user can fix, printed as one line, never a traceback."""

import functools
import os
import signal
import sys
import threading
import time


class UserError(Exception):
    """Bad input or configuration: the message says which file (and line) and what to do.

    One problem per line: several wrong params are reported together, each on its own line.
    """


def exit_on_user_error(fn):
    """Wrap a stage's main(): a UserError becomes `error: ...` on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            for line in str(e).splitlines() or [""]:
                print(f"error: {line}", file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt as e:  # Ctrl-C, SIGTERM, SIGHUP, or the dvc that started it died
            print(
                f"stopped ({e or 'interrupted'}): nothing written; finished generation batches stay in .partial/ and the next run resumes from them",
                file=sys.stderr,
            )
            sys.exit(130)

    return wrapper


_stopping = False
_interrupted = False


def stop_with_dvc() -> None:
    """End the stage like Ctrl-C (KeyboardInterrupt: finished batches stay in .partial/, outputs are
    removed) on SIGTERM or SIGHUP, and when the dvc that started it dies.

    dvc 3.67 dies on SIGTERM without passing it on: its stage, a child of dvc (or of the shell dvc
    runs the command in), ran on and wrote outputs after dvc was gone. Under dvc, PR_SET_PDEATHSIG
    sends us SIGTERM when our parent dies, and a watcher thread does the same for a dvc further up
    (a shell between). A signal ignored when the stage started (nohup) stays ignored.
    """

    def interrupt(signum, frame):
        global _interrupted
        _interrupted = True
        for sig in handled:  # once: a second signal (the group's kill, then PDEATHSIG's) must not cut the cleanup short
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")

    global _stopping
    if _stopping or threading.current_thread() is not threading.main_thread():
        return  # once per process (tests run stages in-process, many times)
    _stopping = True
    # a signal the stage was started ignoring stays ignored: `nohup dvc repro &` must outlive its terminal
    handled = [sig for sig in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(sig) is not signal.SIG_IGN]
    for sig in handled:
        signal.signal(sig, interrupt)
    if not sys.platform.startswith("linux") or signal.SIGTERM not in handled:
        return
    watched = _ancestors(os.getppid())
    dvc = next((i for i, pid in enumerate(watched) if _is_dvc(pid)), None)
    if dvc is None:
        return  # run by hand (`python stages/x.py &`, `cycle-instruct <stage>`): outliving its shell is the user's call
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: our parent dies, we get SIGTERM
    except (OSError, AttributeError):
        pass
    started = {pid: _stat(pid)[19:20] for pid in watched[: dvc + 1]}

    def watch():  # a process is the same while its start time is (a pid can be reused); a zombie is dead
        while all(_stat(pid)[19:20] == start and _stat(pid)[:1] != [b"Z"] for pid, start in started.items()):
            time.sleep(1)
        if not _interrupted:
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="stop_with_dvc", daemon=True).start()


def _read(path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _stat(pid: int) -> list[bytes]:
    """/proc/<pid>/stat's fields from the state on (0: state, 1: parent, 19: start time); [] once it is gone."""
    return _read(f"/proc/{pid}/stat").rsplit(b")", 1)[-1].split()


def _ancestors(pid: int, limit: int = 8) -> list[int]:
    """pid, its parent, grandparent, ... (from /proc), up to `limit` of them."""
    chain = []
    while pid > 1 and len(chain) < limit:
        chain.append(pid)
        stat = _stat(pid)
        pid = int(stat[1]) if len(stat) > 1 else 0
    return chain


def _is_dvc(pid: int) -> bool:
    """`dvc ...` or `python .../dvc ...` / `python -m dvc ...`."""
    argv = _read(f"/proc/{pid}/cmdline").split(b"\0")
    return any(os.path.basename(a) == b"dvc" for a in argv[:2]) or argv[1:3] == [b"-m", b"dvc"]
