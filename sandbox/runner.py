"""threadbook's in-container runner: one persistent Python namespace, like a
Jupyter kernel, driven over stdin/stdout with one JSON object per line.

Requests  {"id": 1, "op": "run", "code": "...", "timeout": 60, "output_bytes": 65536}
          {"id": 2, "op": "ping"} | {"id": 3, "op": "files"} | {"id": 4, "op": "preview", "names": [...]}
          {"id": 5, "op": "baseline"}: what is in the working directory now was not made by a cell
Replies   {"id": 1, "ok": true, ...} ; at start {"id": 0, "op": "ready", "python": "3.11.2"}

The protocol owns the process's real stdout and stdin. The user's code gets
its own: Python-level prints go to a bounded capture, and file descriptors 1
and 2 (subprocesses, C code) are pipes drained into the same capture, so
nothing the code writes can corrupt the protocol. Standard library only.
"""

import ast
import base64
import builtins
import collections
import fcntl
import io
import json
import os
import resource
import signal
import sys
import termios
import threading
import time
import traceback

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
MAX_LISTED_FILES = 500  # changed files reported after one cell
MAX_WALKED_ENTRIES = 20000
VALUE_CHARS = 20000
FIGURE_INLINE_BYTES = 4 * 1024 * 1024


class CellTimeout(BaseException):
    """Raised in the cell's frame when its wall-clock limit passes; a
    BaseException so that `except Exception` in user code does not swallow it."""


class Capture:
    """A text stream keeping the head and tail of what is written, and the total size."""

    def __init__(self, limit):
        self.half = max(1, limit // 2)
        self.head = []
        self.head_size = 0
        self.tail = collections.deque()
        self.tail_size = 0
        self.total = 0
        self.lock = threading.Lock()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        written = len(text)
        if text:
            with self.lock:
                self.total += len(text.encode("utf-8", "replace"))
                room = self.half - self.head_size
                if room > 0:
                    self.head.append(text[:room])
                    self.head_size += len(text[:room])
                    text = text[room:]
                if text:
                    self.tail.append(text)
                    self.tail_size += len(text)
                    while self.tail_size - len(self.tail[0]) >= self.half:
                        self.tail_size -= len(self.tail.popleft())
        return written

    def write_bytes(self, data):
        self.write(data.decode("utf-8", "replace"))

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    @property
    def encoding(self):
        return "utf-8"

    def text(self):
        with self.lock:
            head = "".join(self.head)
            tail = "".join(self.tail)
        if len(tail) > self.half:
            tail = tail[-self.half:]
        kept = len((head + tail).encode("utf-8", "replace"))
        if kept >= self.total:
            return head + tail
        return "%s\n[... %d bytes of output cut, %d in all ...]\n%s" % (head, self.total - kept, self.total, tail)


class FdPipe:
    """Routes a file descriptor (1 or 2) into whichever Capture is current."""

    SENTINEL_PREFIX = b"\x00threadbook-drain-"

    def __init__(self, fd):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.fd = fd
        self.read_end = read_end
        self.target = None
        self.waiting = None
        self.pending = b""
        self.dirty = False
        threading.Thread(target=self.pump, daemon=True).start()

    def pump(self):
        while True:
            data = os.read(self.read_end, 65536)
            self.dirty = True
            if not data:
                return
            data = self.pending + data
            self.pending = b""
            while True:
                waiting = self.waiting
                if waiting is not None and waiting[0] in data:
                    before, _, data = data.partition(waiting[0])
                    self.deliver(before)
                    self.waiting = None
                    waiting[1].set()
                    continue
                break
            # Keep a possible partial sentinel for the next read.
            keep = 0
            if self.waiting is not None:
                marker = self.waiting[0]
                for size in range(min(len(marker) - 1, len(data)), 0, -1):
                    if marker.startswith(data[-size:]):
                        keep = size
                        break
            if keep:
                self.pending = data[-keep:]
                data = data[:-keep]
            self.deliver(data)

    def deliver(self, data):
        if data and self.target is not None:
            self.target.write_bytes(data)

    def drain(self):
        """Waits until everything written to the fd before now has reached the capture."""
        unread = bytearray(4)
        fcntl.ioctl(self.read_end, termios.FIONREAD, unread)
        if not self.dirty and int.from_bytes(unread, sys.byteorder) == 0:
            return  # nothing was written at the descriptor level: the common case, and free
        self.dirty = False
        done = threading.Event()
        marker = self.SENTINEL_PREFIX + os.urandom(8).hex().encode() + b"\x00"
        self.waiting = (marker, done)
        try:
            os.write(self.fd, marker)
        except OSError:
            return
        done.wait(2.0)


class Runner:
    def __init__(self, proto_in, proto_out):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.pid = os.getpid()
        self.cells = 0
        self.out_pipe = FdPipe(1)
        self.err_pipe = FdPipe(2)
        self.snapshot = self.scan()[0]

    # -- protocol ---------------------------------------------------------

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
            except BaseException as error:  # the runner itself must survive anything
                reply = {"ok": False, "fault": "%s: %s" % (type(error).__name__, error)}
            reply["id"] = request_id
            self.send(reply)

    def handle(self, request):
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "python": "%d.%d.%d" % sys.version_info[:3]}
        if op == "run":
            # Cells are numbered by the runner, so a new bot process resuming the
            # session never reuses a number (and a figure's file name).
            self.cells += 1
            return self.run(
                str(request.get("code", "")),
                float(request.get("timeout") or 60),
                self.cells,
                int(request.get("output_bytes") or 65536),
            )
        if op == "files":
            files, omitted = self.scan()
            return {"ok": True, "files": [{"name": name, "bytes": size} for name, (size, _) in sorted(files.items())], "omitted": omitted}
        if op == "baseline":
            self.snapshot = self.scan()[0]  # files put in between cells are not the next cell's doing
            return {"ok": True}
        if op == "preview":
            return {"ok": True, "previews": [preview(name) for name in request.get("names", [])]}
        return {"ok": False, "fault": "unknown op %r" % (op,)}

    # -- cells ------------------------------------------------------------

    def run(self, code, timeout, cell, output_bytes):
        stdout = Capture(output_bytes)
        stderr = Capture(output_bytes)
        self.out_pipe.target = stdout
        self.err_pipe.target = stderr
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = stdout, stderr
        value = None
        error = None
        timed_out = False
        started = time.monotonic()
        previous_handler = signal.signal(signal.SIGALRM, raise_timeout)
        global CELL_RUNNING
        try:
            os.chdir(WORKDIR)
            body, last = split_last_expression(code, "<cell %d>" % cell)
            signal.setitimer(signal.ITIMER_REAL, timeout)
            CELL_RUNNING = True
            if body is not None:
                exec(body, self.namespace)
            if last is not None:
                result = eval(last, self.namespace)
                if result is not None:
                    self.namespace["_"] = result
                    value = render_value(result)
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
        try:
            sys.stdout.flush()
        except Exception:
            pass
        sys.stdout, sys.stderr = saved
        self.out_pipe.drain()
        self.err_pipe.drain()
        self.out_pipe.target = None
        self.err_pipe.target = None
        figures = save_figures(cell)
        files, omitted = self.changed_files()
        return {
            "ok": True,
            "stdout": stdout.text(),
            "stderr": stderr.text(),
            "stdout_bytes": stdout.total,
            "stderr_bytes": stderr.total,
            "value": value,
            "error": error,
            "figures": figures,
            "files": files,
            "files_omitted": omitted,
            "duration_ms": duration_ms,
            "timed_out": timed_out,
        }

    # -- files --------------------------------------------------------------

    def scan(self):
        """Regular files under the working directory: {name: (size, mtime_ns)}, and how many were skipped."""
        files = {}
        seen = 0
        omitted = 0
        for directory, subdirectories, names in os.walk(WORKDIR):
            subdirectories[:] = sorted(d for d in subdirectories if not os.path.islink(os.path.join(directory, d)))
            for name in names:
                seen += 1
                if seen > MAX_WALKED_ENTRIES:
                    omitted += 1
                    continue
                path = os.path.join(directory, name)
                try:
                    status = os.lstat(path)
                except OSError:
                    continue
                if not (status.st_mode & 0o170000 == 0o100000):
                    continue
                files[os.path.relpath(path, WORKDIR)] = (status.st_size, status.st_mtime_ns)
        return files, omitted

    def changed_files(self):
        current, omitted = self.scan()
        changed = [
            {"name": name, "bytes": stat[0]}
            for name, stat in sorted(current.items())
            if self.snapshot.get(name) != stat
        ]
        self.snapshot = current
        omitted += max(0, len(changed) - MAX_LISTED_FILES)
        return changed[:MAX_LISTED_FILES], omitted


def raise_timeout(signum, frame):
    raise CellTimeout()


CELL_RUNNING = False


def interrupt_cell(signum, frame):
    """SIGINT from the host stops a running cell; one that lands between cells
    (a late interrupt) must not take the runner down."""
    if CELL_RUNNING:
        raise KeyboardInterrupt()


def split_last_expression(code, filename):
    """Compiles a cell; a final bare expression is split off to be evaluated and shown."""
    tree = ast.parse(code, filename=filename, mode="exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not code.rstrip().endswith(";"):
        expression = ast.Expression(tree.body.pop().value)
        last = compile(expression, filename, "eval")
    body = compile(tree, filename, "exec") if tree.body else None
    return body, last


def render_value(value):
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        with pandas.option_context("display.max_rows", 40, "display.min_rows", 20, "display.max_columns", 30, "display.width", 160, "display.max_colwidth", 60):
            text = value.to_string(max_rows=40, min_rows=20) if isinstance(value, pandas.DataFrame) else repr(value)
            if isinstance(value, pandas.DataFrame) and len(value) > 40:
                text += "\n[%d rows x %d columns]" % value.shape
    else:
        try:
            text = repr(value)
        except Exception as error:
            text = "<repr failed: %s: %s>" % (type(error).__name__, error)
    if len(text) > VALUE_CHARS:
        half = VALUE_CHARS // 2
        text = "%s\n[... %d characters cut ...]\n%s" % (text[:half], len(text) - VALUE_CHARS, text[-half:])
    return text


def describe_exception(exception):
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename != __file__]
    if isinstance(exception, SyntaxError) and not any(frame.filename.startswith("<cell") for frame in frames):
        frames = []  # a cell that does not compile: the caret says it all
    if len(frames) > 12:
        frames = frames[:4] + frames[-6:]
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exception), exception)
    text = "".join(lines)
    if len(text) > 8000:
        text = text[:2000] + "\n[... traceback cut ...]\n" + text[-5000:]
    return {"name": type(exception).__name__, "message": str(exception)[:2000], "traceback": text}


def save_figures(cell):
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    saved = []
    for index, number in enumerate(pyplot.get_fignums(), start=1):
        name = "figure-%d-%d.png" % (cell, index) if index > 1 or len(pyplot.get_fignums()) > 1 else "figure-%d.png" % cell
        try:
            buffer = io.BytesIO()
            pyplot.figure(number).savefig(buffer, format="png", dpi=110, bbox_inches="tight")
            png = buffer.getvalue()
            with open(os.path.join(WORKDIR, name), "wb") as handle:
                handle.write(png)
            figure = {"name": name, "bytes": len(png)}
            # Small figures travel inline, sparing the host a file transfer per figure.
            if len(png) <= FIGURE_INLINE_BYTES:
                figure["png"] = base64.b64encode(png).decode("ascii")
            saved.append(figure)
        except Exception as error:
            sys.__stderr__.write("figure %d not saved: %s\n" % (number, error))
    pyplot.close("all")
    return saved


def preview(name):
    path = os.path.normpath(os.path.join(WORKDIR, name))
    result = {"name": name, "bytes": 0, "kind": "missing", "head": ""}
    if not path.startswith(WORKDIR + os.sep) or not os.path.isfile(path) or os.path.islink(path):
        return result
    result["bytes"] = os.path.getsize(path)
    lower = name.lower()
    try:
        if lower.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
            import pandas

            sheets = pandas.read_excel(path, sheet_name=None, nrows=5)
            parts = []
            for sheet, frame in list(sheets.items())[:10]:
                with pandas.option_context("display.width", 160, "display.max_columns", 30):
                    parts.append("sheet %r (%d columns):\n%s" % (sheet, frame.shape[1], frame.to_string(max_cols=30)))
            result.update(kind="excel", head="\n\n".join(parts))
            return result
        with open(path, "rb") as handle:
            raw = handle.read(16384)
        if b"\x00" in raw[:4096]:
            result["kind"] = "binary"
            return result
        text = raw.decode("utf-8", "replace")
        lines = [line[:300] for line in text.splitlines()[:8]]
        kind = "csv" if lower.endswith((".csv", ".tsv")) else "text"
        result.update(kind=kind, head="\n".join(lines))
    except Exception as error:
        result.update(kind="unreadable", head="%s: %s" % (type(error).__name__, error))
    return result


def limit_memory():
    """Caps the data segment so a memory bomb raises MemoryError in the cell
    instead of the kernel killing the session. Called after the data stack is
    imported: address space already reserved but not used (thread arenas,
    BLAS buffers) stays allowed, and about 90% of the container's memory is
    left for the cells' own data."""
    limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 50:
            limit = int(text)
        break
    if limit is None:
        return
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                status[key] = int(value.split()[0]) * 1024
    cap = status.get("VmData", 0) + int(limit * 0.9) - status.get("RssAnon", 0)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    except (ValueError, OSError):
        pass


def preload():
    """Imports the data stack once, so the first cell of a session is fast."""
    config = os.environ.get("MPLCONFIGDIR")
    if config:
        os.makedirs(config, exist_ok=True)
        source = "/opt/threadbook/mplconfig"
        if os.path.isdir(source):
            for name in os.listdir(source):
                if name.endswith(".json"):
                    with open(os.path.join(source, name), "rb") as src, open(os.path.join(config, name), "wb") as dst:
                        dst.write(src.read())
    for module in ("numpy", "pandas", "matplotlib.pyplot"):
        try:
            __import__(module)
        except Exception:
            pass
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.show = lambda *args, **kwargs: None


def main():
    # Keep the real stdin/stdout for the protocol; the user's code gets neither.
    proto_in = io.open(os.dup(0), "r", encoding="utf-8", newline="\n")
    proto_out = io.open(os.dup(1), "w", encoding="utf-8", newline="\n")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = io.open(0, "r", closefd=False)
    os.makedirs(WORKDIR, exist_ok=True)
    os.chdir(WORKDIR)
    signal.signal(signal.SIGINT, interrupt_cell)
    preload()
    limit_memory()
    # The runner's own faults go to the container's stderr, which the host logs.
    diagnostics = io.open(os.dup(2), "w", encoding="utf-8", errors="replace", buffering=1)
    runner = Runner(proto_in, proto_out)
    sys.__stderr__ = diagnostics
    try:
        runner.serve()
    except BaseException:
        traceback.print_exc(file=diagnostics)
        raise


if __name__ == "__main__":
    main()
