"""threadbook's egress forwarder: the container's end of the door out.

The container has no network but its own loopback. Where the host mounted a
door (a Unix socket of the bot's proxy, which checks every request against
the operator's policy), this process listens on 127.0.0.1:PORT and copies
each connection's bytes to a new connection on that socket and back. It
decides nothing: HTTP_PROXY and HTTPS_PROXY name this address, and the
proxy on the host allows, refuses, counts and records.

Started by the supervisor under a user of its own (neither root nor the
sandbox user), so the user's code can neither signal it nor take over its
port while it runs. One thread, select; standard library only.
"""

import os
import selectors
import socket
import sys

DOOR_DIR = os.environ.get("THREADBOOK_EGRESS_DIR", "")
DOOR = os.path.join(DOOR_DIR, "egress.sock")
PORT = int(os.environ.get("THREADBOOK_EGRESS_PORT") or "3128")
FORWARDER_UID = 10002
MAX_CONNECTIONS = 64
CHUNK = 64 * 1024
# Bytes held for a side that does not read, per direction, before the other side is no longer read.
MAX_PENDING = 256 * 1024


class Pair:
    """One connection from the container and its connection to the door."""

    def __init__(self, inside, door):
        self.ends = {inside: door, door: inside}
        self.pending = {inside: b"", door: b""}  # bytes waiting to be written to that socket
        self.shut = set()  # sockets whose reading side ended


class Forwarder:
    def __init__(self, listener):
        self.selector = selectors.DefaultSelector()
        self.listener = listener
        self.listener.setblocking(False)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.pairs = {}

    def accept(self):
        try:
            inside, _ = self.listener.accept()
        except OSError:
            return
        if len(self.pairs) >= 2 * MAX_CONNECTIONS:
            inside.close()
            return
        door = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            door.connect(DOOR)
        except OSError as error:
            door.close()
            reason = "threadbook egress: the door out is closed (%s)" % (os.strerror(error.errno) if error.errno else error)
            try:
                inside.sendall(("HTTP/1.1 502 %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s\n" % (reason, len(reason) + 1, reason)).encode())
            except OSError:
                pass
            inside.close()
            return
        for end in (inside, door):
            end.setblocking(False)
        pair = Pair(inside, door)
        for end in (inside, door):
            self.pairs[end] = pair
            self.selector.register(end, selectors.EVENT_READ, pair)

    def watch(self, pair, end):
        if end not in self.pairs:
            return
        events = 0
        if end not in pair.shut and len(pair.pending[pair.ends[end]]) < MAX_PENDING:
            events |= selectors.EVENT_READ
        if pair.pending[end]:
            events |= selectors.EVENT_WRITE
        registered = end in self.selector.get_map()
        if events and registered:
            self.selector.modify(end, events, pair)
        elif events:
            self.selector.register(end, events, pair)
        elif registered:
            self.selector.unregister(end)

    def close(self, pair):
        for end in pair.ends:
            self.pairs.pop(end, None)
            if end in self.selector.get_map():
                self.selector.unregister(end)
            end.close()

    def readable(self, pair, end):
        other = pair.ends[end]
        try:
            data = end.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self.close(pair)
        if not data:
            pair.shut.add(end)
            if not pair.pending[other]:
                self.half_close(pair, other)
        else:
            pair.pending[other] += data
            self.flush(pair, other)
        self.watch(pair, end)
        self.watch(pair, other)

    def half_close(self, pair, end):
        try:
            end.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if pair.shut >= set(pair.ends):
            self.close(pair)

    def flush(self, pair, end):
        data = pair.pending[end]
        if not data:
            return
        try:
            sent = end.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            return self.close(pair)
        pair.pending[end] = data[sent:]
        if not pair.pending[end] and pair.ends[end] in pair.shut:
            self.half_close(pair, end)

    def serve(self):
        while True:
            for key, events in self.selector.select():
                if key.data is None:
                    self.accept()
                    continue
                pair, end = key.data, key.fileobj
                if end not in self.pairs:
                    continue
                if events & selectors.EVENT_WRITE:
                    self.flush(pair, end)
                    if end not in self.pairs:
                        continue
                    self.watch(pair, end)
                    self.watch(pair, pair.ends[end])
                if events & selectors.EVENT_READ and end in self.pairs:
                    self.readable(pair, end)


def start():
    """Called by the supervisor before it starts a kernel: where a door is
    mounted, binds the port (so it listens before any cell runs) and starts
    the forwarder on it under its own user. Returns its pid, or None."""
    if not DOOR_DIR or not os.path.isdir(DOOR_DIR):
        return None
    try:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", PORT))
        listener.listen(64)
    except OSError as error:
        sys.stderr.write("egress forwarder: cannot listen on 127.0.0.1:%d: %s\n" % (PORT, error))
        return None
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)  # the supervisor's stdin and stdout are the host's protocol
            if listener.fileno() != 3:
                os.dup2(listener.fileno(), 3)
            os.set_inheritable(3, True)
            os.closerange(4, 1 << 16)
            os.setsid()
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(FORWARDER_UID, FORWARDER_UID, FORWARDER_UID)
                os.setresuid(FORWARDER_UID, FORWARDER_UID, FORWARDER_UID)
            os.execv(sys.executable, [sys.executable, "-E", "-s", os.path.abspath(__file__), "--listener-fd", "3"])
        except BaseException as error:
            os.write(2, ("egress forwarder did not start: %s\n" % error).encode("utf-8", "replace"))
        finally:
            os._exit(127)
    listener.close()
    return pid


def main():
    if sys.argv[1:2] != ["--listener-fd"]:
        sys.stderr.write("egress forwarder: started by the supervisor only\n")
        sys.exit(2)
    Forwarder(socket.socket(fileno=int(sys.argv[2]))).serve()


if __name__ == "__main__":
    main()
