/**
 * Where a new session goes: the host with the most free session slots, so
 * that hosts fill evenly; between hosts with as much room, the one with the
 * fewest live sessions (an unbounded host has endless room, and is compared
 * by its sessions alone). Stable: hosts alike keep their order.
 */

export interface HostLoad {
  /** Sessions counted against the host's bound now, those being placed there included. */
  live: number;
  /** The host's bound; Infinity when unbounded. */
  max: number;
}

export function byMostRoom<T>(hosts: readonly T[], load: (host: T) => HostLoad): T[] {
  const loads = new Map(hosts.map((host) => [host, load(host)]));
  return [...hosts].sort((a, b) => {
    const first = loads.get(a) as HostLoad;
    const second = loads.get(b) as HostLoad;
    const roomA = first.max - first.live;
    const roomB = second.max - second.live;
    if (roomA !== roomB && !(roomA === Infinity && roomB === Infinity)) return roomA > roomB ? -1 : 1;
    return first.live - second.live;
  });
}
