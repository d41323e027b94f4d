/**
 * A hostile cell: 1 GB written to every descriptor it can write, 1 and 2
 * (captured in the container) included, and the runner's protocol and
 * diagnostics descriptors too. The trust test and the memory benchmark run it.
 */
export const FLOOD_EVERY_DESCRIPTOR = `
import os, fcntl
chunk = b"x" * (1 << 20)
for name in sorted(os.listdir("/proc/self/fd"), key=int):
    fd = int(name)
    try:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            continue
        for _ in range(1024):
            os.write(fd, chunk)
    except OSError:
        pass
`;
