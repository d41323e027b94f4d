/**
 * What the door out of a session lets through: an allow-list of host names
 * (`example.org`, `*.example.org` for its subdomains), IP addresses and CIDR
 * ranges, each with an optional `:port` (any port without one). IPv6 with a
 * port is written in brackets: `[2001:db8::1]:443`.
 *
 * A host name only says which names may be asked for: where it resolves to
 * loopback, a private, link-local, metadata or otherwise special address, the
 * request is refused unless an IP or CIDR entry names that address itself.
 * An IP literal in a request is matched by IP and CIDR entries only.
 */
import { BlockList, isIP } from "node:net";

export interface AllowEntry {
  /** As written in the setting, for messages. */
  text: string;
  kind: "name" | "wildcard" | "address";
  /** Lower-case name (without the `*.`), or the address or range's base. */
  value: string;
  /** CIDR prefix length for "address"; the full length for a single address. */
  prefix: number;
  family: "ipv4" | "ipv6" | null;
  /** Undefined: any port. */
  port: number | undefined;
}

export interface EgressPolicy {
  entries: readonly AllowEntry[];
}

/** Parses a list separated by commas or white space; throws an Error naming the first entry that does not parse. */
export function parseAllowList(text: string): EgressPolicy {
  const entries = text.split(/[\s,]+/).filter((part) => part !== "").map(parseEntry);
  return { entries };
}

function parseEntry(text: string): AllowEntry {
  let rest = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    rest = bracketed[1] as string;
    port = bracketed[2] === undefined ? undefined : portOf(bracketed[2], text);
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const cut = rest.lastIndexOf(":");
    port = portOf(rest.slice(cut + 1), text);
    rest = rest.slice(0, cut);
  }
  const slash = rest.indexOf("/");
  const address = slash < 0 ? rest : rest.slice(0, slash);
  const family = isIP(address);
  if (family !== 0) {
    const full = family === 4 ? 32 : 128;
    const prefix = slash < 0 ? full : Number(rest.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > full || (slash >= 0 && !/^\d+$/.test(rest.slice(slash + 1)))) {
      throw new Error(`${JSON.stringify(text)} has a bad range (an IPv${family} prefix is 0 to ${full})`);
    }
    return { text, kind: "address", value: address, prefix, family: family === 4 ? "ipv4" : "ipv6", port };
  }
  const wildcard = rest.startsWith("*.");
  const name = (wildcard ? rest.slice(2) : rest).toLowerCase().replace(/\.$/, "");
  if (!/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(name)) {
    throw new Error(`${JSON.stringify(text)} is not a host name, *.name, IP address or CIDR range`);
  }
  return { text, kind: wildcard ? "wildcard" : "name", value: name, prefix: 0, family: null, port };
}

function portOf(digits: string, text: string): number {
  const port = Number(digits);
  if (!/^\d{1,5}$/.test(digits) || port < 1 || port > 65_535) throw new Error(`${JSON.stringify(text)} has a bad port (1 to 65535)`);
  return port;
}

const portFits = (entry: AllowEntry, port: number) => entry.port === undefined || entry.port === port;

/** Whether the policy lets the host be asked for at this port at all: a matching name entry, or, for an IP literal, a matching address entry. */
export function hostAllowed(policy: EgressPolicy, host: string, port: number): boolean {
  const literal = isIP(host);
  if (literal !== 0) return addressNamed(policy, host, port);
  const name = host.toLowerCase().replace(/\.$/, "");
  return policy.entries.some((entry) => portFits(entry, port) && (
    (entry.kind === "name" && entry.value === name) || (entry.kind === "wildcard" && name.endsWith(`.${entry.value}`))
  ));
}

/** Whether an IP or CIDR entry names this address (at this port). */
export function addressNamed(policy: EgressPolicy, address: string, port: number): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return policy.entries.some((entry) => {
    if (entry.kind !== "address" || !portFits(entry, port)) return false;
    const list = new BlockList();
    list.addSubnet(entry.value, entry.prefix, entry.family as "ipv4" | "ipv6");
    return list.check(address, family === 4 ? "ipv4" : "ipv6");
  });
}

/** Addresses never connected to unless named: loopback, private, link-local (cloud metadata included), shared, multicast and reserved ranges. */
const special = (() => {
  const list = new BlockList();
  for (const [base, prefix] of [
    ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
    ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24],
    ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
  ] as const) list.addSubnet(base, prefix, "ipv4");
  for (const [base, prefix] of [
    ["::", 128], ["::1", 128], ["64:ff9b::", 96], ["100::", 64], ["2001:db8::", 32],
    ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8],
  ] as const) list.addSubnet(base, prefix, "ipv6");
  return list;
})();

/** Whether an address is loopback, private, link-local, metadata or otherwise not a public one. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 6 && ipv4Mapped.check(address, "ipv6")) return true;
  return family !== 0 && special.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** IPv4-mapped IPv6 (::ffff:a.b.c.d), kept apart: a BlockList matches every IPv4 address against such a range. */
const ipv4Mapped = (() => {
  const list = new BlockList();
  list.addSubnet("::ffff:0:0", 96, "ipv6");
  return list;
})();

/** Whether the door may connect to this resolved address: a public one, or a special one the policy names. */
export function addressAllowed(policy: EgressPolicy, address: string, port: number): boolean {
  return !isSpecialAddress(address) || addressNamed(policy, address, port);
}
