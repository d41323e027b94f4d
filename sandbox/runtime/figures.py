"""Figures a cell leaves open become PNG files in the working directory; a
figure the cell saved itself is not saved again."""

import base64
import functools
import io
import os
import sys
import weakref

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")
MAX_OMITTED_FIGURE_NAMES = 100
MAX_FIGURES = 10  # figures saved and reported per cell; more are closed unsaved and named as omitted
FIGURE_INLINE_BYTES = 4 * 1024 * 1024  # one figure's PNG travels inline up to this size
CELL_INLINE_BYTES = 8 * 1024 * 1024  # all of a cell's inline PNGs together; past it the host reads the files

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
