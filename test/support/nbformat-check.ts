/**
 * Reads a notebook with the real `nbformat` (Debian's python3-nbformat): it
 * must validate against nbformat's own schema, and what nbformat reads of it
 * comes back as JSON (image bytes replaced by their PNG signature and width).
 * Fails loudly when nbformat is not installed; .ci/run installs it.
 */
import { spawnSync } from "node:child_process";

export interface ReadOutput {
  output_type: string;
  name?: string;
  text?: string;
  execution_count?: number;
  data?: Record<string, string>;
  png?: { signature: boolean; width: number };
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface ReadCell {
  cell_type: string;
  id: string;
  source: string;
  execution_count?: number | null;
  outputs?: ReadOutput[];
}

export interface ReadNotebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown> & { title?: string };
  cells: ReadCell[];
}

const reader = String.raw`
import base64, json, struct, sys
import nbformat
from nbformat.validator import get_validator
text = sys.stdin.read()
raw = json.loads(text)
# The file as written, against the schema of its own version (reading would add missing cell ids).
problems = [error.message for error in get_validator(version=raw.get("nbformat"), version_minor=raw.get("nbformat_minor")).iter_errors(raw)]
if problems:
    sys.exit("invalid notebook: " + "; ".join(problems))
notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
nbformat.validate(notebook)
def output(o):
    entry = {key: o[key] for key in ("output_type", "name", "text", "execution_count", "ename", "evalue", "traceback") if key in o}
    if "data" in o:
        entry["data"] = {kind: value for kind, value in o["data"].items() if kind != "image/png"}
        if "image/png" in o["data"]:
            png = base64.b64decode(o["data"]["image/png"])
            entry["data"]["image/png"] = "(%d bytes)" % len(png)
            entry["png"] = {"signature": png[:8] == b"\x89PNG\r\n\x1a\n", "width": struct.unpack(">I", png[16:20])[0]}
    return entry
cells = []
for cell in notebook.cells:
    entry = {"cell_type": cell.cell_type, "id": cell.id, "source": cell.source}
    if cell.cell_type == "code":
        entry["execution_count"] = cell.execution_count
        entry["outputs"] = [output(o) for o in cell.outputs]
    cells.append(entry)
json.dump({"nbformat": notebook.nbformat, "nbformat_minor": notebook.nbformat_minor, "metadata": dict(notebook.metadata), "cells": cells}, sys.stdout)
`;

/** A Python that imports nbformat: Debian's own first (a python3 earlier on PATH may lack Debian's packages). */
function nbformatPython(): string {
  for (const python of ["/usr/bin/python3", "python3"]) {
    if (spawnSync(python, ["-c", "import nbformat"], { stdio: "ignore" }).status === 0) return python;
  }
  throw new Error("nbformat is not installed: apt-get install -y python3-nbformat (.ci/run installs it)");
}

/** The notebook as nbformat reads it; throws with nbformat's message when it does not validate. */
export function readNotebook(data: Buffer | string): ReadNotebook {
  const run = spawnSync(nbformatPython(), ["-c", reader], { input: data, maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
  if (run.status !== 0) throw new Error(`nbformat refused the notebook:\n${run.stderr.toString()}`);
  return JSON.parse(run.stdout.toString()) as ReadNotebook;
}
