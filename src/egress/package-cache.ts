/**
 * pip's index as sessions see it through the door: a pull-through cache of
 * the operator's index (THREADBOOK_PIP_INDEX_URL) kept by the bot, per index,
 * under `<data dir>/pip-cache/<hash of the index URL>/`. A session asks for
 * `http://pip.threadbook.internal/simple/<project>/`; the bot fetches that
 * page from the index once a while, keeps only the links that carry a
 * sha256, and points them back at itself; a file is fetched once, checked
 * against its sha256, and served from disk to every later session, so the
 * second install asks the index nothing.
 *
 * Upstream requests obey the asking session's policy like any other: the
 * index's and the file host's names must be on its list, and an address is
 * taken only where the policy lets it through.
 */
import { createHash, randomBytes } from "node:crypto";
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { addressAllowed, hostAllowed, type EgressPolicy } from "./egress-policy.ts";

/** The host name sessions use for the cache; never resolved, answered by the door itself. */
export const PACKAGE_CACHE_HOST = "pip.threadbook.internal";
/** A project page is asked of the index again after this long. */
const pageTtlMs = 10 * 60_000;
const maxPageBytes = 8 * 1024 * 1024;
const upstreamTimeoutMs = 60_000;

export class PackageCacheRefusal extends Error {}

export interface CachedFile {
  /** The file's bytes; a fresh download is written to the cache as it is read. */
  stream: Readable;
  bytes: number | null;
  /** True when it came from the cache, asking the index nothing. */
  cached: boolean;
}

export class PackageCache {
  readonly indexUrl: URL;
  readonly #directory: string;

  /** `indexUrl`: a simple index (PEP 503), e.g. https://pypi.org/simple; `root`: e.g. `<data dir>/pip-cache`. */
  constructor(indexUrl: string, root: string) {
    this.indexUrl = new URL(indexUrl.endsWith("/") ? indexUrl : `${indexUrl}/`);
    this.#directory = join(root, createHash("sha256").update(this.indexUrl.href).digest("hex").slice(0, 16));
  }

  /** The project's page, links rewritten to `/files/<sha256>/<name>`; from the cache when fresh. */
  async page(project: string, policy: EgressPolicy): Promise<{ html: string; cached: boolean; upstreamBytes: number }> {
    const name = project.toLowerCase().replace(/[-_.]+/g, "-");
    if (!/^[a-z0-9][a-z0-9-]{0,127}$/.test(name)) throw new PackageCacheRefusal(`${JSON.stringify(project)} is not a project name`);
    const pagePath = join(this.#directory, "pages", `${name}.json`);
    if (existsSync(pagePath) && Date.now() - statSync(pagePath).mtimeMs < pageTtlMs) {
      return { html: render(name, JSON.parse(readFileSync(pagePath, "utf8")) as PageLink[]), cached: true, upstreamBytes: 0 };
    }
    const pageUrl = new URL(`${name}/`, this.indexUrl);
    const response = await get(pageUrl, policy);
    if (response.statusCode === 404) {
      response.resume();
      throw new PackageCacheRefusal(`the index has no project ${name}`);
    }
    if (response.statusCode !== 200) {
      response.resume();
      throw new PackageCacheRefusal(`the index answered ${response.statusCode} for ${name}`);
    }
    const body = await readBounded(response, maxPageBytes);
    const links = parseLinks(body.toString("utf8"), pageUrl);
    mkdirSync(join(this.#directory, "pages"), { recursive: true, mode: 0o700 });
    mkdirSync(join(this.#directory, "files"), { recursive: true, mode: 0o700 });
    for (const link of links) writeFileSync(join(this.#directory, "files", `${link.sha256}.url`), link.url);
    writeAtomically(pagePath, JSON.stringify(links));
    return { html: render(name, links), cached: false, upstreamBytes: body.length };
  }

  /** A file by its sha256 (as a page listed it): from the cache, or fetched, checked and kept. */
  async file(sha256: string, policy: EgressPolicy, maxBytes: number): Promise<CachedFile> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new PackageCacheRefusal("not a file this index listed");
    const path = join(this.#directory, "files", sha256);
    if (existsSync(path)) return { stream: createReadStream(path), bytes: statSync(path).size, cached: true };
    let source: string;
    try {
      source = readFileSync(`${path}.url`, "utf8");
    } catch {
      throw new PackageCacheRefusal("not a file this index listed");
    }
    const response = await get(new URL(source), policy);
    if (response.statusCode !== 200) {
      response.resume();
      throw new PackageCacheRefusal(`the file host answered ${response.statusCode}`);
    }
    const length = Number(response.headers["content-length"]);
    if (Number.isFinite(length) && length > maxBytes) {
      response.destroy();
      throw new PackageCacheRefusal(`the file of ${length} bytes is over the ${maxBytes} bytes left of this turn's allowance (THREADBOOK_EGRESS_TURN_MB)`);
    }
    // Kept only when whole and matching its sha256; the session gets the bytes as they come either way (pip checks them too).
    const partial = `${path}.${randomBytes(6).toString("hex")}.part`;
    const out = createWriteStream(partial, { mode: 0o600 });
    const hash = createHash("sha256");
    response.on("data", (chunk: Buffer) => {
      hash.update(chunk);
      out.write(chunk);
    });
    response.on("end", () => out.end(() => {
      if (hash.digest("hex") === sha256) renameSync(partial, path);
      else rmSync(partial, { force: true });
    }));
    response.on("error", () => out.destroy());
    response.on("close", () => {
      if (!response.complete) {
        out.destroy();
        rmSync(partial, { force: true });
      }
    });
    return { stream: response, bytes: Number.isFinite(length) ? length : null, cached: false };
  }
}

interface PageLink {
  name: string;
  url: string;
  sha256: string;
  requiresPython: string | null;
}

/** The links of a simple index page that carry a sha256; the rest are left out. */
function parseLinks(html: string, base: URL): PageLink[] {
  const links: PageLink[] = [];
  for (const match of html.matchAll(/<a\s([^>]*)>([^<]*)<\/a>/gi)) {
    const attributes = match[1] as string;
    const href = /href\s*=\s*"([^"]*)"/i.exec(attributes)?.[1];
    if (href === undefined) continue;
    const url = new URL(decodeEntities(href), base);
    const sha256 = /(?:^|&)sha256=([0-9a-f]{64})/i.exec(url.hash.slice(1))?.[1]?.toLowerCase();
    const name = decodeURIComponent(url.pathname.split("/").at(-1) ?? "");
    if (sha256 === undefined || !/^[A-Za-z0-9._+!-]{1,200}$/.test(name) || !/^https?:$/.test(url.protocol)) continue;
    url.hash = "";
    const requiresPython = /data-requires-python\s*=\s*"([^"]*)"/i.exec(attributes)?.[1] ?? null;
    links.push({ name, url: url.href, sha256, requiresPython: requiresPython === null ? null : decodeEntities(requiresPython) });
  }
  return links;
}

function render(project: string, links: readonly PageLink[]): string {
  const anchors = links.map((link) => {
    const python = link.requiresPython === null ? "" : ` data-requires-python="${escapeHtml(link.requiresPython)}"`;
    return `<a href="/files/${link.sha256}/${encodeURIComponent(link.name)}#sha256=${link.sha256}"${python}>${escapeHtml(link.name)}</a>`;
  });
  return `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0"><title>Links for ${project}</title></head><body>\n${anchors.join("<br>\n")}\n</body></html>\n`;
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function writeAtomically(path: string, text: string): void {
  const partial = `${path}.${randomBytes(6).toString("hex")}.part`;
  writeFileSync(partial, text, { mode: 0o600 });
  renameSync(partial, path);
}

/** A GET under the session's policy: the host on its list, and only an address it lets through. */
function get(url: URL, policy: EgressPolicy): Promise<IncomingMessage> {
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!hostAllowed(policy, host, port)) throw new PackageCacheRefusal(`${host}:${port} is not on the allow-list (THREADBOOK_EGRESS_ALLOW)`);
  const lookup: LookupFunction = (name, options, callback) => {
    dnsLookup(name, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 4);
      const chosen = addresses.find((candidate) => addressAllowed(policy, candidate.address, port));
      if (chosen === undefined) return callback(new PackageCacheRefusal(`${name} resolves to ${addresses[0]?.address}, an address the allow-list does not name`), "", 4);
      if ((options as { all?: boolean }).all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, [chosen]);
      callback(null, chosen.address, chosen.family);
    });
  };
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: "GET", lookup, timeout: upstreamTimeoutMs, headers: { accept: "text/html", "user-agent": "threadbook-package-cache" } }, resolve);
    outgoing.on("timeout", () => outgoing.destroy(new PackageCacheRefusal(`${host} did not answer`)));
    outgoing.on("error", (error) => reject(error instanceof PackageCacheRefusal ? error : new PackageCacheRefusal(`${host}:${port} failed: ${(error as NodeJS.ErrnoException).code ?? error.message}`)));
    outgoing.end();
  });
}

function readBounded(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        response.destroy();
        return reject(new PackageCacheRefusal(`the index page is over ${maxBytes} bytes`));
      }
      chunks.push(chunk);
    });
    response.on("end", () => resolve(Buffer.concat(chunks)));
    response.on("error", reject);
  });
}
