"""Files in and out of the working directory, run by the host through
`docker exec` as root in the sandbox user's group, so that nothing the
user's code leaves running can signal or trace it.

  transfer.py get   stdin: {"names": [...], "max_bytes": N, "total_bytes": T}
                    stdout: a tar stream of those of the named files that are
                    regular files reached without passing through a symlink,
                    each at most N bytes, T bytes in all; nothing else.
  transfer.py put   stdin: a tar stream of plain-named regular files, written
                    into the working directory as the sandbox user's; a
                    symlink or other file in the way is replaced, never followed.

Each path is opened one component at a time with O_NOFOLLOW, so a symlink
anywhere in it (also one swapped in meanwhile) refuses the file instead of
leading out of the working directory. Exit 3: no space left.
"""

import errno
import json
import os
import stat
import sys
import tarfile

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
SANDBOX_UID = 10001
SANDBOX_GID = 10001
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_NAMES = 10000


def open_inside(name):
    """A read descriptor for the regular file `name` under the working directory, or None."""
    parts = name.split("/")
    if not name or any(part in ("", ".", "..") or "\0" in part for part in parts):
        return None
    directory = os.open(WORKDIR, DIRECTORY_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, DIRECTORY_FLAGS, dir_fd=directory)
            os.close(directory)
            directory = inner
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


class Bounded:
    """Reads at most `size` bytes from a descriptor; a file that shrank meanwhile is padded with zeros."""

    def __init__(self, fd, size):
        self.fd = fd
        self.left = size

    def read(self, count=-1):
        if count < 0 or count > self.left:
            count = self.left
        data = os.read(self.fd, count) if count else b""
        if len(data) < count:
            data += bytes(count - len(data))
        self.left -= len(data)
        return data


def get():
    request = json.loads(sys.stdin.buffer.read(64 * 1024 * 1024))
    names = [name for name in request.get("names", [])[:MAX_NAMES] if isinstance(name, str)]
    max_bytes = int(request.get("max_bytes", 0))
    left = int(request.get("total_bytes", 0))
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as archive:
        for name in names:
            fd = open_inside(name)
            if fd is None:
                continue
            try:
                size = os.fstat(fd).st_size
                if size > max_bytes or size > left:
                    continue
                info = tarfile.TarInfo(name)
                info.size = size
                info.mode = 0o644
                archive.addfile(info, Bounded(fd, size))
                left -= size
            finally:
                os.close(fd)


def write_new_file(directory, name, mode, source):
    """Replaces `name` in `directory` with a new file of `source`'s bytes, the sandbox user's;
    never through a symlink or into a file something else holds open."""
    try:
        os.unlink(name, dir_fd=directory)
    except FileNotFoundError:
        pass
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=directory)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, SANDBOX_UID, SANDBOX_GID)
        while True:
            chunk = source.read(1024 * 1024)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def put():
    directory = os.open(WORKDIR, DIRECTORY_FLAGS)
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as archive:
        for member in archive:
            name = member.name
            if not member.isfile() or "/" in name or name in ("", ".", "..") or "\0" in name:
                raise SystemExit("refused %r: only plain-named regular files go in" % name)
            write_new_file(directory, name, 0o644, archive.extractfile(member))


SNAPSHOT_FILE = "/snapshot/namespace.pickle"


def snapshot_get():
    """The kernel's snapshot file, at most the bytes asked for (on stdin), then gone."""
    limit = int(sys.stdin.buffer.read(32))
    try:
        fd = os.open(SNAPSHOT_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        sys.exit(4)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode) or os.fstat(fd).st_size > limit:
            sys.exit(5)
        left = os.fstat(fd).st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            sys.stdout.buffer.write(chunk)
            left -= len(chunk)
        sys.stdout.buffer.flush()
    finally:
        os.close(fd)
        os.unlink(SNAPSHOT_FILE)


def snapshot_put():
    """A snapshot from the host, for the kernel to restore, as the sandbox user's."""
    directory = os.open(os.path.dirname(SNAPSHOT_FILE), DIRECTORY_FLAGS)
    write_new_file(directory, os.path.basename(SNAPSHOT_FILE), 0o640, sys.stdin.buffer)


def main():
    try:
        {"get": get, "put": put, "snapshot-get": snapshot_get, "snapshot-put": snapshot_put}[sys.argv[1]]()
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            sys.stderr.write("No space left for the files: %s\n" % error)
            sys.exit(3)
        raise


if __name__ == "__main__":
    main()
