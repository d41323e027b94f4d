/** `threadbook --version`: the version in the project's package.json. */
import { readFileSync } from "node:fs";

export function threadbookVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "unknown";
}
