"""The working directory's listing, done by the supervisor: regular files
only, never through a symlink, bounded in entries and in the bytes of names.
The kernel cannot change what this reports: it runs in another process,
under another user."""

import os
import stat

MAX_LISTED_FILES = 500  # changed files reported after one cell
MAX_WALKED_ENTRIES = 20000
MAX_LISTED_NAME_BYTES = 8 * 1024 * 1024  # a listing's names together; the host bounds each reply line
MAX_DEPTH = 32


def scan(workdir):
    """Regular files under `workdir`: {name: (size, mtime_ns)}, and how many were skipped."""
    files = {}
    seen = 0
    omitted = 0
    name_bytes = 0
    stack = [("", 0)]
    while stack:
        relative_dir, depth = stack.pop()
        try:
            entries = sorted(os.scandir(os.path.join(workdir, relative_dir) if relative_dir else workdir), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_WALKED_ENTRIES:
                omitted += 1
                continue
            relative = entry.name if not relative_dir else relative_dir + "/" + entry.name
            try:
                status = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(status.st_mode):
                if depth + 1 < MAX_DEPTH:
                    stack.append((relative, depth + 1))
                continue
            if not stat.S_ISREG(status.st_mode):
                continue
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


def changed(before, after):
    """Files new or changed since `before`, at most MAX_LISTED_FILES, and how many more."""
    names = [name for name, status in sorted(after.items()) if before.get(name) != status]
    listed = [{"name": name, "bytes": after[name][0]} for name in names[:MAX_LISTED_FILES]]
    return listed, max(0, len(names) - MAX_LISTED_FILES)
