/**
 * File names crossing into and out of a session: pure rules, shared by the
 * core, the store and the sandbox. Names from users become a plain, safe
 * base name; names asked of a session must stay inside its working
 * directory.
 */
import { SandboxError } from "./errors.ts";

/**
 * The longest name, in UTF-8 bytes, that every file system on a file's path
 * takes (tmpfs in the session, the data directory's): 255, with room left for
 * the "-2" that `uniqueName` may add.
 */
export const MAX_NAME_BYTES = 240;

/** Control and format characters: line breaks, NUL, and invisible ones such as U+202E, which makes "evil\u202Etxt.exe" display as "evilexe.txt". */
const controlOrFormat = /[\p{Cc}\p{Cf}]/gu;

/**
 * Turns whatever a user's file was called into a plain file name: the last
 * path segment, no control or format characters, no leading dots, at most
 * MAX_NAME_BYTES bytes of UTF-8 with the extension kept.
 */
export function sanitizeFileName(original: string): string {
  const lastSegment = original.split(/[\\/]/).filter(Boolean).pop() ?? "";
  let name = lastSegment
    .normalize("NFC")
    .replace(controlOrFormat, "")
    .replace(/[<>:"|?*]/g, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "");
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
    const dot = name.lastIndexOf(".");
    const extension = dot > 0 && name.length - dot <= 12 ? name.slice(dot) : "";
    name = truncateUtf8(name.slice(0, name.length - extension.length), MAX_NAME_BYTES - Buffer.byteLength(extension)).trimEnd() + extension;
  }
  return name === "" ? "file" : name;
}

/**
 * A name of something in a session (a path the code made, maybe with
 * folders) as it is safe to show and to upload: each segment without control
 * or format characters and within MAX_NAME_BYTES.
 */
export function displayPath(path: string): string {
  return path.split("/").map((segment) => sanitizeFileName(segment)).join("/");
}

/** The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, never splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const character of text) {
    const size = Buffer.byteLength(character);
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += character.length;
  }
  return text.slice(0, end);
}

/** Throws unless `name` is already a plain file name (what sanitizeFileName returns). */
export function assertPlainFileName(name: string): void {
  if (name === "" || name !== sanitizeFileName(name)) {
    throw new SandboxError("file_rejected", `The file name ${JSON.stringify(name.slice(0, 200))} is not allowed: use a plain name without folders or special characters.`, { details: { name } });
  }
}

/** Throws unless `name` is a relative path that stays inside the working directory. */
export function assertInsideWorkdir(name: string): void {
  const segments = name.split("/");
  const bad = name === "" || name.includes("\0") || name.startsWith("/") || name.includes("\\") ||
    segments.some((segment) => segment === "" || segment === "." || segment === "..");
  if (bad) {
    throw new SandboxError("file_rejected", `The path ${JSON.stringify(name.slice(0, 200))} is not inside the session's working directory.`, { details: { name } });
  }
}

/** A name not yet in `taken`: "data.csv", then "data-2.csv", "data-3.csv", … */
export function uniqueName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  const dot = name.lastIndexOf(".");
  const stem = dot > 0 ? name.slice(0, dot) : name;
  const extension = dot > 0 ? name.slice(dot) : "";
  for (let index = 2; ; index++) {
    const candidate = `${stem}-${index}${extension}`;
    if (!taken.has(candidate)) return candidate;
  }
}
