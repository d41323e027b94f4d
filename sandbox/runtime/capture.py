"""Output capture for the kernel: what a cell prints, at the Python level and
on descriptors 1 and 2 (a subprocess's output included), kept head and tail
within a bound, in the order it was written."""

import codecs
import collections
import fcntl
import os
import select
import sys
import threading
import termios

LINE_BUFFER_CHARS = 8192  # a Python-level line longer than this is passed on in parts
DRAIN_WAIT_SECONDS = 5.0  # bounds a drain if the pump thread is starved; the host waits on the whole cell


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
