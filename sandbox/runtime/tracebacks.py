"""How a cell's exception is shown: the user's frames kept, library frames
folded into one line naming their packages, the whole bounded."""

import os
import traceback

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))


def describe_exception(exception):
    frames = [frame for frame in traceback.extract_tb(exception.__traceback__) if not frame.filename.startswith(KERNEL_DIR + os.sep)]
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
