// Run in deploy/Dockerfile's first stage, in the folder holding package-lock.json
// and the node_modules ./threadbook installed: checks that every production
// package is there at the version the lock names, then removes the packages
// only development needs (the lock marks them "dev"), as `npm prune --omit=dev`
// would, without npm.
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"));
const packages = Object.entries(lock.packages ?? {}).filter(([path]) => path.startsWith("node_modules/"));
const stale = [];
for (const [path, entry] of packages) {
  if (entry.dev || entry.optional) continue;
  const manifest = `${path}/package.json`;
  const version = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")).version : undefined;
  if (version !== entry.version) stale.push(`${path.slice("node_modules/".length)} ${version ?? "missing"} (the lock says ${entry.version})`);
}
if (stale.length > 0) {
  console.error(`node_modules does not match package-lock.json: ${stale.slice(0, 5).join(", ")}${stale.length > 5 ? ", …" : ""}.\nRun ./threadbook (or npm ci) once, then build again.`);
  process.exit(1);
}
let removed = 0;
for (const [path, entry] of packages) {
  if (!entry.dev) continue;
  rmSync(path, { recursive: true, force: true });
  removed += 1;
}
rmSync("node_modules/.bin", { recursive: true, force: true });
// A scope whose packages were all for development is left empty.
for (const name of readdirSync("node_modules")) {
  if (name.startsWith("@") && readdirSync(`node_modules/${name}`).length === 0) rmdirSync(`node_modules/${name}`);
}
console.error(`removed ${removed} development packages`);
