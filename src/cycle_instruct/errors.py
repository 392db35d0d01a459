"""One kind of error for everything a user can fix, printed as one line, never a traceback."""

import functools
import sys


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

    return wrapper
