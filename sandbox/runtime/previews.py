"""A first look at a file the user gave: the first lines of text, or the
first rows of each sheet of a workbook."""

import os

WORKDIR = os.environ.get("THREADBOOK_WORKDIR", "/work")


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
