"""threadbook's kernel: one persistent Python namespace, like a Jupyter
kernel, started by the supervisor (supervisor.py) under the sandbox user and
driven by it over this process's original stdin and stdout, one JSON object
per line.

Requests  {"id": 1, "op": "run", "code": "...", "timeout": 60, "output_bytes": 65536}
          {"id": 2, "op": "preview", "names": [...]}
Replies   {"id": 1, "ok": true, ...} ; at start {"id": 0, "op": "ready", "python": "3.11.2"}

The user's code runs in this process, so it can reach everything here: the
kernel is not trusted by the supervisor, which bounds and checks every line,
does the working directory's listing itself, and restarts a kernel that
breaks the protocol. The user's code gets descriptors 0, 1 and 2 of its own:
0 reads nothing, 1 and 2 are pipes drained into a bounded capture. Standard
library only.
"""

import builtins
import io
import json
import linecache
import os
import signal
import sys
import time
import traceback

from capture import Capture, FdPipe
from figures import record_figure_saves, save_figures, FIGURE_SAVES
from memory import limit_memory
from pip_magic import rewrite as rewrite_pip_lines
from previews import preview
import snapshots
from tracebacks import describe_exception
from values import render_value, render_value_html, split_last_expression

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")


class CellTimeout(BaseException):
    """Raised in the cell's frame when its wall-clock limit passes; a
    BaseException so that `except Exception` in user code does not swallow it."""


CELL_RUNNING = False


def raise_timeout(signum, frame):
    raise CellTimeout()


def interrupt_cell(signum, frame):
    """SIGINT from the supervisor stops a running cell; one that lands between
    cells (a late interrupt) must not take the kernel down."""
    if CELL_RUNNING:
        raise KeyboardInterrupt()


class Kernel:
    def __init__(self, proto_in, proto_out):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.pid = os.getpid()
        self.cells = int(os.environ.get("THREADBOOK_FIRST_CELL", "0"))
        self.out_pipe = FdPipe(1)
        self.err_pipe = FdPipe(2)
        os.register_at_fork(after_in_child=print_to_descriptors)

    def send(self, message):
        self.proto_out.write(json.dumps(message, ensure_ascii=False, default=str) + "\n")
        self.proto_out.flush()

    def serve(self):
        self.send({"id": 0, "op": "ready", "python": "%d.%d.%d" % sys.version_info[:3], "pid": os.getpid()})
        for line in self.proto_in:
            line = line.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
            except ValueError as error:
                self.send({"id": None, "ok": False, "fault": "bad request: %s" % error})
                continue
            request_id = request.get("id")
            try:
                reply = self.handle(request)
            except BaseException as error:  # the kernel itself must survive anything
                reply = {"ok": False, "fault": "%s: %s" % (type(error).__name__, error)}
            reply["id"] = request_id
            self.send(reply)

    def handle(self, request):
        op = request.get("op")
        if op == "run":
            self.cells = int(request.get("cell") or self.cells + 1)
            return self.run(
                str(request.get("code", "")),
                float(request.get("timeout") or 60),
                self.cells,
                int(request.get("output_bytes") or 65536),
            )
        if op == "preview":
            return {"ok": True, "previews": [preview(name) for name in request.get("names", [])]}
        if op == "snapshot":
            return snapshots.snapshot(self.namespace, int(request.get("limit_bytes") or 0))
        if op == "restore":
            return snapshots.restore(self.namespace)
        return {"ok": False, "fault": "unknown op %r" % (op,)}

    def run(self, code, timeout, cell, output_bytes):
        global CELL_RUNNING
        stdout = Capture(output_bytes, self.out_pipe)
        stderr = Capture(output_bytes, self.err_pipe)
        for pipe, capture in ((self.out_pipe, stdout), (self.err_pipe, stderr)):
            pipe.reconnect()
            pipe.drain()  # what arrived between cells is no cell's output
            pipe.target = capture
        FIGURE_SAVES.clear()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        value = None
        value_html = None
        error = None
        timed_out = False
        started = time.monotonic()
        previous_handler = signal.signal(signal.SIGALRM, raise_timeout)
        try:
            os.chdir(WORKDIR)
            filename = "<cell %d>" % cell
            # Tracebacks (and inspect) show the cell's own lines, as in a notebook.
            lines = [line if line.endswith("\n") else line + "\n" for line in code.splitlines(True)]
            linecache.cache[filename] = (len(code), None, lines, filename)
            code = rewrite_pip_lines(code)  # after the cache: a traceback shows the line as written
            body, last = split_last_expression(code, filename)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            CELL_RUNNING = True
            if body is not None:
                exec(body, self.namespace)
            if last is not None:
                result = eval(last, self.namespace)
                if result is not None:
                    self.namespace["_"] = result
                    value = render_value(result)
                    value_html = render_value_html(result)
        except CellTimeout:
            timed_out = True
            error = {"name": "TimeoutError", "message": "the cell ran past its %g s limit and was interrupted" % timeout, "traceback": ""}
        except KeyboardInterrupt:
            timed_out = True
            error = {"name": "KeyboardInterrupt", "message": "the cell was interrupted", "traceback": ""}
        except BaseException as exception:  # SystemExit included: the session lives on
            error = describe_exception(exception)
        finally:
            CELL_RUNNING = False
            if os.getpid() != self.pid:
                os._exit(0)  # a child the cell forked must never reach the protocol
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_handler)
        duration_ms = (time.monotonic() - started) * 1000
        sys.stdout, sys.stderr = saved
        stdout.flush()
        stderr.flush()
        self.out_pipe.drain()
        self.err_pipe.drain()
        self.out_pipe.target = None
        self.err_pipe.target = None
        figures, figures_omitted = save_figures(cell)
        return {
            "ok": True,
            "stdout": stdout.text(),
            "stderr": stderr.text(),
            "stdout_bytes": stdout.total,
            "stderr_bytes": stderr.total,
            "value": value,
            "value_html": value_html,
            "error": error,
            "figures": figures,
            "figures_omitted": figures_omitted,
            "duration_ms": duration_ms,
            "timed_out": timed_out,
        }


def print_to_descriptors():
    """In a process a cell forks (os.fork, multiprocessing), Python-level output
    goes to descriptors 1 and 2, where the kernel's pumps capture it, instead of
    into the child's own copy of the capture."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if isinstance(getattr(sys, name), Capture):
            setattr(sys, name, io.open(fd, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False))


def preload():
    """Prepares matplotlib's settings and, in a warm container, imports the
    data stack once, so the first cell of a session is fast. A session started
    on demand (THREADBOOK_PRELOAD=0: the pool was empty, someone is waiting)
    imports only numpy ahead: each cell imports what else it uses, and pyplot
    gets the kernel's hooks when it is first imported."""
    config = os.environ.get("MPLCONFIGDIR")
    if config:
        os.makedirs(config, exist_ok=True)
        source = "/opt/threadbook/mplconfig"
        if os.path.isdir(source):
            for name in os.listdir(source):
                if name.endswith(".json"):
                    with open(os.path.join(source, name), "rb") as src, open(os.path.join(config, name), "wb") as dst:
                        dst.write(src.read())
    # numpy always: its BLAS reserves its threads' buffers as it loads, which must happen before
    # limit_memory caps the data segment (a BLAS starting under the cap can hang its first call).
    lazy = os.environ.pop("THREADBOOK_PRELOAD", None) == "0"  # the setting is the kernel's, not the cells'.
    if lazy:
        sys.meta_path.insert(0, PyplotHooks())
    for module in ("numpy",) if lazy else ("numpy", "pandas", "matplotlib.pyplot"):
        try:
            __import__(module)
        except Exception:
            pass
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        hook_pyplot(pyplot)


def hook_pyplot(pyplot):
    """show() draws nothing (figures are collected after the cell), and a figure the code saves itself is noted."""
    pyplot.show = lambda *args, **kwargs: None
    record_figure_saves(sys.modules["matplotlib.figure"].Figure)


class PyplotHooks:
    """An import finder that gives matplotlib.pyplot the kernel's hooks as it
    is first imported; every other import, and any after that, it leaves to
    the finders after it."""

    def __init__(self):
        self.done = False

    def find_spec(self, fullname, path, target=None):
        if self.done or fullname != "matplotlib.pyplot":
            return None
        self.done = True
        import importlib.util
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_module(module):
            run_module(module)
            hook_pyplot(module)

        loader.exec_module = exec_module
        return spec


def main():
    # The supervisor's pipes carry the protocol; the user's code gets neither.
    proto_in = io.open(os.dup(0), "r", encoding="utf-8", newline="\n")
    proto_out = io.open(os.dup(1), "w", encoding="utf-8", errors="replace", newline="\n")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = io.open(0, "r", closefd=False)
    # The kernel's modules are not the user's to import by accident.
    kernel_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != kernel_dir]
    os.chdir(WORKDIR)
    signal.signal(signal.SIGINT, interrupt_cell)
    preload()
    limit_memory()
    # The kernel's own faults go to its original stderr, which the supervisor reads, bounded.
    diagnostics = io.open(os.dup(2), "w", encoding="utf-8", errors="replace", buffering=1)
    kernel = Kernel(proto_in, proto_out)
    sys.__stderr__ = diagnostics
    try:
        kernel.serve()
    except BaseException:
        traceback.print_exc(file=diagnostics)
        raise


if __name__ == "__main__":
    main()
