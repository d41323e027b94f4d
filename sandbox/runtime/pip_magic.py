"""`%pip install NAME` and `!pip install NAME` in a cell, as models write
them from Jupyter: each such line is rewritten, before the cell is compiled,
into a call that runs `python -m pip` with the same arguments. Where the
session has a door out, the container's environment sends pip through it
(HTTP(S)_PROXY), to the index the operator named, into the session's
package directory (PIP_TARGET, on sys.path); without one pip fails to reach
any index and says so.

One line becomes one line, so a traceback's line numbers stay the cell's.

`install` is the same pip for a skill's declared packages, installed when a
session first imports the skill (the `skills` package the host writes, see
src/sandbox/docker/skills-package.ts).
"""

import importlib
import re
import shlex
import subprocess
import sys

# `%pip …`, `!pip …`, `!pip3 …`, `!python -m pip …`, `!python3 -m pip …`, indented or not.
LINE = re.compile(r"^(?P<indent>[ \t]*)(?:%pip3?|!\s*pip3?|!\s*python3?\s+-m\s+pip)(?:[ \t]+(?P<args>.*?))?[ \t]*$")


def rewrite(code):
    """The cell's code with every pip line as a call to `run`; other lines unchanged."""
    lines = code.split("\n")
    changed = False
    for number, line in enumerate(lines):
        match = LINE.match(line)
        if match:
            lines[number] = "%s__import__('sys').modules['pip_magic'].run(%r)" % (match.group("indent"), match.group("args") or "")
            changed = True
    return "\n".join(lines) if changed else code


def run(arguments):
    """Runs pip with the arguments as a shell would split them; its output is the cell's."""
    try:
        words = shlex.split(arguments)
    except ValueError as error:
        print("pip: %s" % error, file=sys.stderr)
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    # Descriptors 1 and 2 are the kernel's capture pipes: pip's output lands in the cell's output.
    code = subprocess.call([sys.executable, "-m", "pip"] + words, stdin=subprocess.DEVNULL)
    importlib.invalidate_caches()  # a package installed just now imports in this cell
    if code != 0:
        print("pip exited with code %d" % code, file=sys.stderr)
    return None


def install(requirements):
    """Runs `pip install` for requirements the host validated (names and version
    specifiers only); returns pip's exit code and its output, kept from the cell's
    output so that only a failure shows it."""
    sys.stdout.flush()
    sys.stderr.flush()
    # run() kills pip when the wait is interrupted (a cell's timeout, a stop), so none is left behind.
    completed = subprocess.run(
        # `--`: however a requirement reads, pip takes it as one, never as an option such as --index-url.
        [sys.executable, "-m", "pip", "install", "--"] + list(requirements),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    importlib.invalidate_caches()
    return completed.returncode, completed.stdout.decode("utf-8", "replace")
