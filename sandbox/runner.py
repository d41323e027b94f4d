"""threadbook's in-container runner: one persistent Python namespace, like a
Jupyter kernel, driven over stdin/stdout with one JSON object per line.

Requests  {"id": 1, "op": "run", "code": "...", "timeout": 60, "output_bytes": 65536}
          {"id": 2, "op": "ping"} | {"id": 3, "op": "files"} | {"id": 4, "op": "preview", "names": [...]}
          {"id": 5, "op": "baseline"}: what is in the working directory now was not made by a cell
Replies   {"id": 1, "ok": true, ...} ; at start {"id": 0, "op": "ready", "python": "3.11.2"}

The protocol runs over duplicates of the process's original stdin and stdout,
and the runner's diagnostics over a duplicate of its original stderr. The
user's code gets descriptors 0, 1 and 2 of its own: 0 reads nothing, 1 and 2
are pipes drained into a bounded capture (Python-level prints go to the same
capture), so ordinary output, a subprocess's included, never lands on the
protocol. That is a convenience, not a boundary: the code runs in this very
process, so a cell *can* reach the protocol and diagnostics descriptors (for
example through /proc/self/fd) and write anything there. The host therefore
bounds, validates and distrusts every byte it reads from this process, and a
violation of the protocol restarts the session. Standard library only.
"""

import ast
import base64
import builtins
import codecs
import collections
import fcntl
import functools
import io
import json
import linecache
import os
import resource
import select
import signal
import sys
import termios
import threading
import time
import traceback
import weakref

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
MAX_LISTED_FILES = 500  # changed files reported after one cell
MAX_WALKED_ENTRIES = 20000
MAX_LISTED_NAME_BYTES = 8 * 1024 * 1024  # a listing's names together; the host bounds each reply line
MAX_OMITTED_FIGURE_NAMES = 100
VALUE_CHARS = 20000
VALUE_HTML_CHARS = 100000  # a DataFrame's HTML table, as a notebook shows it; longer, none is sent (cut HTML is broken HTML)
MAX_FIGURES = 10  # figures saved and reported per cell; more are closed unsaved and named as omitted
FIGURE_INLINE_BYTES = 4 * 1024 * 1024  # one figure's PNG travels inline up to this size
CELL_INLINE_BYTES = 8 * 1024 * 1024  # all of a cell's inline PNGs together; past it the host reads the files
LINE_BUFFER_CHARS = 8192  # a Python-level line longer than this is passed on in parts
DRAIN_WAIT_SECONDS = 5.0  # bounds a drain if the pump thread is starved; the host waits on the whole cell


class CellTimeout(BaseException):
    """Raised in the cell's frame when its wall-clock limit passes; a
    BaseException so that `except Exception` in user code does not swallow it."""


class Capture:
    """A text stream keeping the head and tail of what is written, and the total size.

    Python-level writes (print) are line buffered, as on a terminal: each line
    first drains the descriptor pipe of the same stream, so it lands after
    anything a subprocess or C code wrote before it. Only the pump writes
    through `append` directly."""

    def __init__(self, limit, pipe=None):
        self.half = max(1, limit // 2)
        self.head = []
        self.head_size = 0
        self.tail = collections.deque()
        self.tail_size = 0
        self.total = 0
        self.pipe = pipe
        self.line = []
        self.line_size = 0
        # Reentrant: a signal handler that prints may interrupt a write in progress.
        self.lock = threading.RLock()
        # Held while draining the pipe, which needs the pump to take `lock`: so a second lock.
        self.line_lock = threading.RLock()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        if self.pipe is None:
            self.append(text)
            return len(text)
        with self.line_lock:
            self.line.append(text)
            self.line_size += len(text)
            if "\n" in text or self.line_size >= LINE_BUFFER_CHARS:
                self.flush()
        return len(text)

    def flush(self):
        with self.line_lock:
            if not self.line:
                return
            text = "".join(self.line)
            self.line = []
            self.line_size = 0
            try:
                if self.pipe is not None:
                    self.pipe.drain()
            finally:
                self.append(text)  # even when the cell's time limit interrupts the drain

    def append(self, text):
        if not text:
            return
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
    """Routes a file descriptor (1 or 2) into whichever Capture is current.

    A pump thread moves bytes from the pipe to the current target. Nothing
    can be in flight unseen: the pump sets `holding` before it takes bytes out
    of the pipe and clears it only once they are delivered. So a pipe found
    empty, and then a pump found not holding, means everything written before
    was delivered (the common, free case: one ioctl). Otherwise a drain writes
    a numbered marker behind the data and waits until the pump reaches it.
    """

    MARKER_DIGITS = 16

    def __init__(self, fd):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        self.fd = fd
        self.pid = os.getpid()
        # The runner's own write end: markers go here whatever a cell does to the descriptor.
        self.write_end = write_end
        self.read_end = read_end
        os.set_blocking(read_end, False)
        self.target = None
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.holding = False
        # A secret per process, so output that merely looks like a marker is passed through as output.
        self.prefix = b"\x00threadbook-drain-" + os.urandom(8).hex().encode() + b"-"
        self.marker_size = len(self.prefix) + self.MARKER_DIGITS + 1
        self.issued = 0
        self.reached = 0
        self.progress = threading.Condition()
        self.drain_lock = threading.Lock()
        self.draining_thread = None
        threading.Thread(target=self.pump, name="threadbook-fd-%d" % fd, daemon=True).start()

    def reconnect(self):
        """Points the descriptor at the pipe again, in case the last cell closed or replaced it."""
        try:
            os.dup2(self.write_end, self.fd)
        except OSError:
            pass

    def pump(self):
        pending = b""
        while True:
            select.select([self.read_end], [], [])
            self.holding = True  # before the bytes leave the pipe: see the class docstring
            try:
                data = os.read(self.read_end, 65536)
            except BlockingIOError:
                data = b""
            if data:
                pending = self.split(pending + data)
            self.holding = bool(pending)

    def split(self, data):
        """Delivers the data, noting each marker in it; returns a tail that may be the start of a marker."""
        while b"\x00" in data:
            start = data.find(self.prefix)
            if start < 0:
                break
            if len(data) - start < self.marker_size:
                self.deliver(data[:start])
                return data[start:]
            marker = data[start:start + self.marker_size]
            number = marker[len(self.prefix):-1]
            if marker.endswith(b"\x00") and number.isdigit() and int(number) <= self.issued:
                self.deliver(data[:start])
                self.note_reached(int(number))
                data = data[start + self.marker_size:]
            else:
                self.deliver(data[:start + 1])
                data = data[start + 1:]
        keep = 0
        for size in range(min(len(self.prefix) - 1, len(data)), 0, -1):
            if data.endswith(self.prefix[:size]):
                keep = size
                break
        self.deliver(data[:len(data) - keep])
        return data[len(data) - keep:]

    def deliver(self, data):
        if not data:
            return
        text = self.decoder.decode(data)
        target = self.target
        if text and target is not None:
            target.append(text)

    def note_reached(self, number):
        with self.progress:
            self.reached = max(self.reached, number)
            self.progress.notify_all()

    def idle(self):
        """True when everything written to the descriptor before this call has been delivered."""
        # Order matters: the pipe first, then the pump (see the class docstring).
        return fcntl.ioctl(self.read_end, termios.FIONREAD, NO_BYTES) == NO_BYTES and not self.holding

    def drain(self):
        """Waits until everything written to the descriptor before now has reached the capture."""
        if self.idle() or os.getpid() != self.pid:
            return  # nothing in flight; or a forked child, where no pump runs
        me = threading.get_ident()
        if self.draining_thread == me:
            return  # a signal handler printing in the middle of this thread's own drain
        with self.drain_lock:
            self.draining_thread = me
            try:
                with self.progress:
                    self.issued += 1
                    number = self.issued
                marker = self.prefix + b"%0*d\x00" % (self.MARKER_DIGITS, number)
                if not write_fully(self.write_end, marker):
                    return
                with self.progress:
                    if not self.progress.wait_for(lambda: self.reached >= number, DRAIN_WAIT_SECONDS):
                        sys.__stderr__.write("fd %d: output not drained within %g s\n" % (self.fd, DRAIN_WAIT_SECONDS))
            finally:
                self.draining_thread = None


NO_BYTES = bytes(4)  # FIONREAD's answer for an empty pipe


def write_fully(fd, data):
    """Writes all of data to a pipe, even one a cell made non-blocking; False if it cannot."""
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
        except OSError:
            return False
    return True


class Runner:
    def __init__(self, proto_in, proto_out):
        self.proto_in = proto_in
        self.proto_out = proto_out
        self.namespace = {"__name__": "__main__", "__builtins__": builtins}
        self.pid = os.getpid()
        self.cells = 0
        self.out_pipe = FdPipe(1)
        self.err_pipe = FdPipe(2)
        os.register_at_fork(after_in_child=print_to_descriptors)
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
        global CELL_RUNNING
        try:
            os.chdir(WORKDIR)
            filename = "<cell %d>" % cell
            # Tracebacks (and inspect) show the cell's own lines, as in a notebook.
            lines = [line if line.endswith("\n") else line + "\n" for line in code.splitlines(True)]
            linecache.cache[filename] = (len(code), None, lines, filename)
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
        files, omitted = self.changed_files()
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
        name_bytes = 0
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
                relative = os.path.relpath(path, WORKDIR)
                try:
                    # A name that is not UTF-8 cannot be named to the host (nor fetched by it).
                    name_bytes += len(relative.encode("utf-8"))
                except UnicodeEncodeError:
                    omitted += 1
                    continue
                if name_bytes > MAX_LISTED_NAME_BYTES:
                    omitted += 1
                    continue
                files[relative] = (status.st_size, status.st_mtime_ns)
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


def print_to_descriptors():
    """In a process a cell forks (os.fork, multiprocessing), Python-level output
    goes to descriptors 1 and 2, where the runner's pumps capture it, instead of
    into the child's own copy of the capture."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if isinstance(getattr(sys, name), Capture):
            setattr(sys, name, io.open(fd, "w", encoding="utf-8", errors="replace", buffering=1, closefd=False))


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


def render_value_html(value):
    """A DataFrame's table as HTML, with the display bounds of render_value; None for anything else."""
    pandas = sys.modules.get("pandas")
    if pandas is None or not isinstance(value, pandas.DataFrame):
        return None
    try:
        with pandas.option_context("display.max_rows", 40, "display.min_rows", 20, "display.max_columns", 30, "display.max_colwidth", 60):
            html = value._repr_html_()
    except Exception:
        return None
    return html if isinstance(html, str) and len(html) <= VALUE_HTML_CHARS else None


def describe_exception(exception):
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if frame.filename != __file__]
    if isinstance(exception, SyntaxError) and not any(frame.filename.startswith("<cell") for frame in frames):
        frames = []  # a cell that does not compile: the caret says it all
    entries = trimmed_frames(frames)
    if len(entries) > 12:
        entries = entries[:4] + ["  … %d more entries …\n" % (len(entries) - 10)] + entries[-6:]
    lines = ["Traceback (most recent call last):\n"] if entries else []
    lines += entries
    lines += traceback.format_exception_only(type(exception), exception)
    text = "".join(lines)
    if len(text) > 8000:
        text = text[:2000] + "\n[... traceback cut ...]\n" + text[-5000:]
    return {"name": type(exception).__name__, "message": str(exception)[:2000], "traceback": text}


def trimmed_frames(frames):
    """The user's frames and the frame that raised, each formatted; every other
    run of library frames folded into one line naming their packages."""
    entries = []
    folded = []
    for position, frame in enumerate(frames):
        if is_user_frame(frame) or position == len(frames) - 1:
            if folded:
                entries.append(fold_line(folded))
                folded = []
            entries.append(traceback.format_list([frame])[0])
        else:
            folded.append(frame)
    return entries


def is_user_frame(frame):
    """Code of the cells, or of files the cells wrote into the working directory."""
    return frame.filename.startswith("<cell ") or frame.filename.startswith(WORKDIR + os.sep)


def fold_line(frames):
    packages = []
    for frame in frames:
        package = package_of(frame.filename)
        if package not in packages:
            packages.append(package)
    return "  … %d frame%s in %s …\n" % (len(frames), "" if len(frames) == 1 else "s", ", ".join(packages))


STANDARD_LIBRARY = os.path.dirname(os.__file__)


def package_of(filename):
    """The top-level package or module a frame's file belongs to, e.g. "pandas" or "json"."""
    if filename.startswith("<frozen ") and filename.endswith(">"):
        return filename[len("<frozen "):-1].split(".")[0]
    parts = filename.split("/")
    for packages_dir in ("site-packages", "dist-packages"):
        if packages_dir in parts[:-1]:
            parts = parts[len(parts) - parts[::-1].index(packages_dir):]
            break
    else:
        if filename.startswith(STANDARD_LIBRARY + "/"):
            parts = filename[len(STANDARD_LIBRARY) + 1:].split("/")
        elif filename.startswith("/"):
            parts = parts[-1:]
    return parts[0].split(".")[0] or filename


# Figure -> [(absolute path, format)] of the cell's own savefig calls into files.
FIGURE_SAVES = weakref.WeakKeyDictionary()


def record_figure_saves(figure_class):
    """Wraps Figure.savefig (pyplot.savefig and seaborn go through it) to note
    where the cell saved each figure, so a saved figure is not saved again."""
    original = figure_class.savefig
    if getattr(original, "threadbook_records_saves", False):
        return

    @functools.wraps(original)
    def savefig(figure, fname, *args, **kwargs):
        result = original(figure, fname, *args, **kwargs)
        try:
            saved = saved_file(fname, kwargs.get("format"))
            if saved is not None:
                FIGURE_SAVES.setdefault(figure, []).append(saved)
        except Exception:
            pass
        return result

    savefig.threadbook_records_saves = True
    figure_class.savefig = savefig


def saved_file(fname, format):
    """The file and format a savefig call wrote, as matplotlib names them; None for a buffer."""
    if isinstance(fname, os.PathLike):
        fname = os.fspath(fname)
    if not isinstance(fname, str):
        return None
    if not format:
        format = os.path.splitext(fname)[1][1:]
        if not format:
            format = sys.modules["matplotlib"].rcParams["savefig.format"]
            fname = fname.rstrip(".") + "." + format
    return os.path.abspath(fname), str(format).lower()


SAVED_IN_OTHER_FORMAT = "saved in another format"


def own_save(figure):
    """The working directory's PNG file the cell saved the figure to, relative to it;
    SAVED_IN_OTHER_FORMAT if it saved it there only as something else (pdf, svg);
    None if it did not save it there."""
    other_format = False
    for path, format in reversed(FIGURE_SAVES.get(figure, [])):
        if not path.startswith(WORKDIR + os.sep):
            continue
        if format != "png":
            other_format = True
        elif os.path.isfile(path) and not os.path.islink(path):
            return os.path.relpath(path, WORKDIR).replace(os.sep, "/")
    return SAVED_IN_OTHER_FORMAT if other_format else None


def save_figures(cell):
    """Reports the figures the cell left open: the first MAX_FIGURES as PNG files
    (a figure the cell saved as PNG itself under its own name, one it saved in
    another format not at all), the rest closed unsaved and named as omitted."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return [], []
    plan = []  # (figure number, the cell's own PNG file or None)
    for number in pyplot.get_fignums():
        try:
            own = own_save(pyplot.figure(number))
        except Exception:
            own = None
        if own is not SAVED_IN_OTHER_FORMAT:
            plan.append((number, own))
    unsaved = sum(1 for _, own in plan if own is None)
    names = []
    index = 0
    for number, own in plan:
        if own is None:
            index += 1
            own = "figure-%d.png" % cell if unsaved == 1 else "figure-%d-%d.png" % (cell, index)
        names.append(own)
    saved = []
    omitted = []
    inline_left = CELL_INLINE_BYTES
    for (number, own), name in zip(plan, names):
        if any(figure["name"] == name for figure in saved):
            continue  # two figures saved by the cell under one name: the file holds the last
        if len(saved) >= MAX_FIGURES:
            if len(omitted) < MAX_OMITTED_FIGURE_NAMES:
                omitted.append(name)
            continue
        try:
            path = os.path.join(WORKDIR, name)
            if own is None:
                buffer = io.BytesIO()
                pyplot.figure(number).savefig(buffer, format="png", dpi=110, bbox_inches="tight")
                png = buffer.getvalue()
                with open(path, "wb") as handle:
                    handle.write(png)
                size = len(png)
            else:
                png = None
                size = os.path.getsize(path)
            figure = {"name": name, "bytes": size}
            # Figures travel inline within a budget, sparing the host a file transfer per figure.
            if size <= FIGURE_INLINE_BYTES and size <= inline_left:
                if png is None:
                    with open(path, "rb") as handle:
                        png = handle.read(FIGURE_INLINE_BYTES + 1)
                if len(png) == size:
                    figure["png"] = base64.b64encode(png).decode("ascii")
                    inline_left -= size
            saved.append(figure)
        except Exception as error:
            sys.__stderr__.write("figure %d not saved: %s\n" % (number, error))
    pyplot.close("all")
    FIGURE_SAVES.clear()
    return saved, omitted


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
        record_figure_saves(sys.modules["matplotlib.figure"].Figure)


def main():
    # Keep the real stdin/stdout for the protocol; the user's code gets neither.
    proto_in = io.open(os.dup(0), "r", encoding="utf-8", newline="\n")
    proto_out = io.open(os.dup(1), "w", encoding="utf-8", errors="replace", newline="\n")
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
