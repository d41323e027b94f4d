"""The kernel's memory ceiling, so a memory bomb raises MemoryError in the
cell instead of the kernel being killed."""

import resource


def limit_memory():
    """Caps the data segment so a memory bomb raises MemoryError in the cell
    instead of the kernel killing the session. Called after the data stack is
    imported: address space already reserved but not used (thread arenas,
    BLAS buffers) stays allowed, and about 90% of the container's memory is
    left for the cells' own data."""
    limit = None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 50:
            limit = int(text)
        break
    if limit is None:
        return
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                status[key] = int(value.split()[0]) * 1024
    cap = status.get("VmData", 0) + int(limit * 0.9) - status.get("RssAnon", 0)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    except (ValueError, OSError):
        pass
