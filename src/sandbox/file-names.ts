/**
 * File names crossing into and out of a session. Names from users become a
 * plain, safe base name; names asked of a session must stay inside its
 * working directory.
 */
import { SandboxError } from "../errors.ts";

const MAX_NAME_LENGTH = 120;

/**
 * Turns whatever a user's file was called into a plain file name: the last
 * path segment, no control characters, no leading dots, at most 120
 * characters with the extension kept.
 */
export function sanitizeFileName(original: string): string {
  const lastSegment = original.split(/[\\/]/).filter(Boolean).pop() ?? "";
  let name = lastSegment
    .normalize("NFC")
    .replace(/[\u0000-\u001f\u007f<>:"|?*]/g, "_")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^\.+/, "");
  if (name.length > MAX_NAME_LENGTH) {
    const dot = name.lastIndexOf(".");
    const extension = dot > 0 && name.length - dot <= 12 ? name.slice(dot) : "";
    name = name.slice(0, MAX_NAME_LENGTH - extension.length) + extension;
  }
  return name === "" ? "file" : name;
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
