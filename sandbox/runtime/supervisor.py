"""threadbook's supervisor: the session container's main process.

It owns the protocol with the host (one JSON object per line on its stdin
and stdout), the working directory's listing and the kernel's lifecycle. The
user's namespace lives in a kernel process (kernel.py) that it starts under
the sandbox user, so that the user's code can neither patch, signal nor
trace it: the supervisor runs as root with only the capabilities to start
the kernel under that user and to signal it (CAP_SETUID, CAP_SETGID,
CAP_KILL), and reads the working directory through the sandbox user's group.

Requests  {"id": 1, "op": "run", "code": "...", "timeout": 60, "output_bytes": 65536}
          {"id": 2, "op": "files"} | {"id": 3, "op": "preview", "names": [...]}
          {"id": 4, "op": "baseline"}: what is in the working directory now was not made by a cell
          {"id": 5, "op": "restart"}: ends every process of the sandbox user, starts a new kernel
          {"id": 6, "op": "ping"}
Replies   {"id": 1, "ok": true, ...}; {"id": 1, "ok": false, "fault": "...", "lost": "why"}
          when the kernel died while it held the request (it is restarted, files kept);
          once, first of all, {"id": 0, "op": "ready", "python": "3.11.2"}.
"run", "preview" and "ping" wait for a ready kernel and are taken in order;
the others are answered at once.

Every line from the kernel is untrusted: bounded, parsed, matched to the one
request it may answer. A kernel that sends anything else, or dies, is
replaced by a new one in about a second; the working directory stays.
SIGINT to this process interrupts the running cell.
"""

import collections
import json
import os
import select
import signal
import sys
import time

import egress_forward
import workdir_scan

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
SANDBOX_UID = 10001
SANDBOX_GID = 10001
KERNEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernel.py")
MAX_HOST_LINE = 96 * 1024 * 1024
MAX_KERNEL_LINE = 40 * 1024 * 1024
KERNEL_LOG_BYTES = 16 * 1024  # of a kernel's own stderr, passed on to the host's log; the rest is dropped
READ_CHUNK = 1024 * 1024
PYTHON = "%d.%d.%d" % sys.version_info[:3]
# Wait for a ready kernel, in order; "ping" is answered by the supervisor then, so a ping says the kernel is ready.
KERNEL_OPS = ("run", "preview", "ping", "snapshot", "restore")


class LineReader:
    """Splits a descriptor's bytes into lines of at most `limit` bytes; a longer one is reported as such."""

    def __init__(self, fd, limit):
        self.fd = fd
        self.limit = limit
        self.parts = []
        self.size = 0
        self.eof = False

    def read(self):
        """The complete lines read now; None in the list marks a line over the limit."""
        try:
            data = os.read(self.fd, READ_CHUNK)
        except BlockingIOError:
            return []
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return []
        lines = []
        while data:
            cut = data.find(b"\n")
            piece = data if cut < 0 else data[:cut]
            if self.size is not None:
                if self.size + len(piece) > self.limit:
                    self.parts, self.size = [], None
                else:
                    self.parts.append(piece)
                    self.size += len(piece)
            if cut < 0:
                break
            lines.append(None if self.size is None else b"".join(self.parts))
            self.parts, self.size = [], 0
            data = data[cut + 1:]
        return lines


class Supervisor:
    def __init__(self):
        self.host_in = LineReader(0, MAX_HOST_LINE)
        self.host_out = os.fdopen(os.dup(1), "wb", buffering=0)
        self.kernel = None
        self.kernel_out = None
        self.kernel_err = None
        self.kernel_ready = False
        self.kernel_log_bytes = 0
        self.failed_starts = 0
        self.restart_at = None
        self.outstanding = None
        self.waiting = collections.deque()
        self.cells = 0
        self.snapshot = workdir_scan.scan(WORKDIR)[0]
        self.oom_kills = oom_kill_count()

    # -- host ---------------------------------------------------------------

    def send(self, message):
        data = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8", "replace") + b"\n"
        view = memoryview(data)
        while view:
            written = self.host_out.write(view)
            view = view[written:]

    def from_host(self, line):
        if line is None:
            return self.send({"id": None, "ok": False, "fault": "request line too long"})
        try:
            request = json.loads(line)
        except ValueError as error:
            return self.send({"id": None, "ok": False, "fault": "bad request: %s" % error})
        if not isinstance(request, dict):
            return self.send({"id": None, "ok": False, "fault": "bad request: not an object"})
        request_id = request.get("id")
        op = request.get("op")
        try:
            if op in KERNEL_OPS:
                self.waiting.append(request)
                return self.dispatch()
            if op == "files":
                files, omitted = workdir_scan.scan(WORKDIR)
                reply = {"ok": True, "files": [{"name": name, "bytes": size} for name, (size, _) in sorted(files.items())], "omitted": omitted}
            elif op == "baseline":
                self.snapshot = workdir_scan.scan(WORKDIR)[0]  # files put in between cells are not the next cell's doing
                reply = {"ok": True}
            elif op == "restart":
                self.replace_kernel("it was restarted", requested=True)
                reply = {"ok": True}
            else:
                reply = {"ok": False, "fault": "unknown op %r" % (op,)}
        except Exception as error:  # the supervisor must survive anything
            reply = {"ok": False, "fault": "%s: %s" % (type(error).__name__, error)}
        reply["id"] = request_id
        self.send(reply)

    # -- kernel -------------------------------------------------------------

    def start_kernel(self):
        request_in, request_out = os.pipe()
        reply_in, reply_out = os.pipe()
        error_in, error_out = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(request_in, 0)
                os.dup2(reply_out, 1)
                os.dup2(error_out, 2)
                os.closerange(3, 1 << 16)
                os.setsid()
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
                    os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
                os.umask(0o022)
                os.chdir(WORKDIR)
                os.execv(sys.executable, [sys.executable, "-u", KERNEL])
            except BaseException as error:
                os.write(2, ("kernel did not start: %s\n" % error).encode("utf-8", "replace"))
            finally:
                os._exit(127)
        for fd in (request_in, reply_out, error_out):
            os.close(fd)
        self.kernel = (pid, request_out)
        self.kernel_out = LineReader(reply_in, MAX_KERNEL_LINE)
        self.kernel_err = error_in
        self.kernel_err_open = True
        self.to_kernel = b""
        for fd in (request_out, reply_in, error_in):
            os.set_blocking(fd, False)
        self.kernel_ready = False
        self.kernel_log_bytes = 0
        self.restart_at = None

    def replace_kernel(self, why, requested=False):
        """Ends every process of the sandbox user (the kernel, and whatever its cells left running), then starts a new kernel."""
        if requested:
            end_sandbox_processes(self.kernel[0] if self.kernel is not None else None)
            self.failed_starts = 0
            self.kernel_ready = True  # so the count below starts afresh
        if self.kernel is not None:
            pid, pipe = self.kernel
            end_sandbox_processes(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            for fd in (pipe, self.kernel_out.fd, self.kernel_err):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.kernel = None
        if self.outstanding is not None:
            request, self.outstanding = self.outstanding, None
            self.send({"id": request.get("id"), "ok": False, "fault": "the Python kernel stopped: %s" % why, "lost": why})
        # A kernel that keeps dying before it is ready is started again ever more slowly, not in a tight loop.
        self.failed_starts = self.failed_starts + 1 if not self.kernel_ready else 0
        self.kernel_ready = False
        if self.failed_starts >= 3:
            self.restart_at = time.monotonic() + min(10.0, 0.25 * 2 ** (self.failed_starts - 3))
        else:
            self.start_kernel()

    def kernel_died(self):
        pid = self.kernel[0]
        try:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
        except ChildProcessError:
            code = None
        oom = oom_kill_count()
        if oom > self.oom_kills:
            why = "it ran out of memory"
        elif code is not None and code < 0:
            why = "it was killed by signal %d" % -code
        elif code is not None:
            why = "it exited with code %d" % code
        else:
            why = "it exited"
        self.oom_kills = oom
        self.log("kernel ended: %s" % why)
        self.replace_kernel(why)

    def violation(self, reason):
        self.log("kernel broke the protocol (%s); replacing it" % reason)
        self.replace_kernel("it sent data it may not send")

    def from_kernel(self, line):
        if line is None:
            return self.violation("a line over %d bytes" % MAX_KERNEL_LINE)
        try:
            message = json.loads(line)
        except ValueError:
            return self.violation("a line that is not JSON")
        if not isinstance(message, dict):
            return self.violation("a line that is not an object")
        if not self.kernel_ready:
            if message.get("id") == 0 and message.get("op") == "ready":
                self.kernel_ready = True
                return self.dispatch()
            return self.violation("a line before its ready line")
        request = self.outstanding
        if request is None or message.get("id") != request.get("id"):
            return self.violation("a line answering no request")
        self.outstanding = None
        if request.get("op") == "run" and message.get("ok") is True:
            message = self.with_files(message)
        self.send(message)
        self.dispatch()

    def with_files(self, reply):
        """The cell's result with the files as the supervisor sees them; figures only where a file is."""
        current, omitted = workdir_scan.scan(WORKDIR)
        files, more = workdir_scan.changed(self.snapshot, current)
        self.snapshot = current
        figures = reply.get("figures")
        if isinstance(figures, list):
            reply["figures"] = [
                figure for figure in figures
                if isinstance(figure, dict) and isinstance(figure.get("name"), str) and figure["name"] in current
                and figure.get("bytes") == current[figure["name"]][0]
            ]
        reply["files"] = files
        reply["files_omitted"] = omitted + more
        return reply

    def dispatch(self):
        if self.kernel is None or self.outstanding is not None or not self.kernel_ready or not self.waiting:
            return
        request = self.waiting.popleft()
        if request.get("op") == "ping":
            self.send({"id": request.get("id"), "ok": True, "python": PYTHON})
            return self.dispatch()
        if request.get("op") == "run":
            self.cells += 1
            request = dict(request, cell=self.cells)
        self.outstanding = request
        # Written as the kernel reads it: a kernel that does not read never blocks the supervisor.
        self.to_kernel = json.dumps(request).encode("utf-8") + b"\n"
        self.write_to_kernel()

    def write_to_kernel(self):
        try:
            written = os.write(self.kernel[1], self.to_kernel)
        except BlockingIOError:
            return
        except OSError:
            written = len(self.to_kernel)  # a dead kernel is found by its closed output
        self.to_kernel = self.to_kernel[written:]

    def drain_kernel_log(self):
        try:
            data = os.read(self.kernel_err, READ_CHUNK)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            return False
        room = KERNEL_LOG_BYTES - self.kernel_log_bytes
        if room > 0:
            sys.stderr.write(data[:room].decode("utf-8", "replace"))
            sys.stderr.flush()
        self.kernel_log_bytes += len(data)
        return True

    def interrupt(self, signum, frame):
        if self.kernel is not None:
            try:
                os.kill(self.kernel[0], signal.SIGINT)
            except OSError:
                pass

    def log(self, text):
        sys.stderr.write("supervisor: %s\n" % text)
        sys.stderr.flush()

    # -- loop ---------------------------------------------------------------

    def serve(self):
        signal.signal(signal.SIGINT, self.interrupt)
        self.send({"id": 0, "op": "ready", "python": PYTHON, "pid": os.getpid()})
        self.start_kernel()
        while not self.host_in.eof:
            if self.kernel is None:
                wait = max(0.0, self.restart_at - time.monotonic())
                ready, _, _ = select.select([0], [], [], wait)
                if 0 in ready:
                    for line in self.host_in.read():
                        self.from_host(line)
                if self.kernel is None and time.monotonic() >= self.restart_at:
                    self.start_kernel()
                continue
            readers = [0, self.kernel_out.fd] + ([self.kernel_err] if self.kernel_err_open else [])
            writers = [self.kernel[1]] if self.to_kernel else []
            ready, writable, _ = select.select(readers, writers, [])
            if writable and self.kernel[1] in writable:
                self.write_to_kernel()
            if self.kernel_err in ready:
                self.kernel_err_open = self.drain_kernel_log()
            if self.kernel_out.fd in ready:
                kernel = self.kernel
                for line in self.kernel_out.read():
                    self.from_kernel(line)
                    if self.kernel is not kernel:
                        break  # replaced: the rest of what the old one sent is dropped
                else:
                    if self.kernel_out.eof:
                        self.kernel_died()
            if 0 in ready:
                for line in self.host_in.read():
                    self.from_host(line)


def end_sandbox_processes(kernel_pid):
    """SIGKILL to every process of the sandbox user: from a child that takes
    that user's id, as the kernel and what it started run under it."""
    if os.geteuid() != 0:
        if kernel_pid is None:
            return
        try:
            os.killpg(kernel_pid, signal.SIGKILL)
        except OSError:
            pass
        return
    child = os.fork()
    if child == 0:
        try:
            os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def oom_kill_count():
    """How many processes the kernel's out-of-memory killer ended in this container (cgroup v2; 0 where unknown)."""
    try:
        with open("/sys/fs/cgroup/memory.events") as events:
            for line in events:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def main():
    if os.geteuid() == 0:
        os.setgroups([SANDBOX_GID])  # reads the working directory through the sandbox user's group
    os.makedirs(WORKDIR, exist_ok=True)
    egress_forward.start()  # the door out, where the host mounted one; the kernel finds it through HTTP(S)_PROXY
    Supervisor().serve()


if __name__ == "__main__":
    main()
