"""A kernel's namespace saved after a turn and put back into a new kernel:
each name pickled on its own with dill, so one value that cannot be saved
(an open file, a socket, a generator) never costs the others; modules are
imported again by name. The file is opaque to the host and bounded; it is
unpickled only here, inside the sandbox."""

import importlib
import io
import os
import pickle
import types

SNAPSHOT_DIR = os.environ.get("THREADBOOK_SNAPSHOT_DIR", "/snapshot")
SNAPSHOT_FILE = os.path.join(SNAPSHOT_DIR, "namespace.pickle")
FORMAT = 1
MAX_NAMES = 2000
REASON_CHARS = 200


def saved_names(namespace):
    return [name for name in namespace if not name.startswith("__") and name != "_" and not name.startswith("_threadbook")]


def snapshot(namespace, limit_bytes):
    """Writes the namespace to SNAPSHOT_FILE; returns what was saved, what was skipped and why."""
    import dill

    values = {}
    modules = {}
    skipped = []
    total = 0
    over = False
    for name in saved_names(namespace)[:MAX_NAMES]:
        value = namespace[name]
        if isinstance(value, types.ModuleType):
            modules[name] = value.__name__
            continue
        # Saved, these would come back pointing elsewhere (a file reopened, maybe truncated): never kept.
        if isinstance(value, io.IOBase):
            skipped.append({"name": name, "why": "an open file (%s)" % type(value).__name__})
            continue
        if isinstance(value, (types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType)):
            skipped.append({"name": name, "why": "a %s, which cannot be saved" % type(value).__name__})
            continue
        try:
            data = dill.dumps(value, protocol=pickle.HIGHEST_PROTOCOL, byref=True)
        except BaseException as error:  # anything a value's own pickling raises
            skipped.append({"name": name, "why": describe(value, error)})
            continue
        if total + len(data) > limit_bytes:
            over = True
            break
        values[name] = data
        total += len(data)
    if os.path.exists(SNAPSHOT_FILE):
        os.unlink(SNAPSHOT_FILE)
    if over:
        return {"ok": True, "bytes": 0, "saved": [], "skipped": skipped, "over": True}
    payload = pickle.dumps({"format": FORMAT, "values": values, "modules": modules}, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > limit_bytes:
        return {"ok": True, "bytes": 0, "saved": [], "skipped": skipped, "over": True}
    with open(SNAPSHOT_FILE, "wb") as handle:
        handle.write(payload)
    return {"ok": True, "bytes": len(payload), "saved": sorted(list(values) + list(modules)), "skipped": skipped, "over": False}


def restore(namespace):
    """Puts a snapshot the host placed in SNAPSHOT_FILE back; returns the names restored and those that could not be."""
    import dill

    with open(SNAPSHOT_FILE, "rb") as handle:
        payload = pickle.load(handle)
    os.unlink(SNAPSHOT_FILE)
    restored = []
    failed = []
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return {"ok": True, "restored": [], "failed": [{"name": "*", "why": "the snapshot is of an unknown format"}]}
    for name, module in payload.get("modules", {}).items():
        try:
            namespace[name] = importlib.import_module(module)
            restored.append(name)
        except BaseException as error:
            failed.append({"name": name, "why": "module %s: %s" % (module, error)[:REASON_CHARS]})
    for name, data in payload.get("values", {}).items():
        try:
            namespace[name] = dill.loads(data)
            restored.append(name)
        except BaseException as error:
            failed.append({"name": name, "why": ("%s: %s" % (type(error).__name__, error))[:REASON_CHARS]})
    return {"ok": True, "restored": sorted(restored), "failed": failed}


def describe(value, error):
    kind = type(value).__name__
    return ("a %s (%s: %s)" % (kind, type(error).__name__, error))[:REASON_CHARS]
