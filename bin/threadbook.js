#!/usr/bin/env node
// `npx threadbook`: runs src/main.ts on a Node.js that strips types (22.18+),
// the project's own .tools/node where the machine's node is older. Reads the
// project's .env as ./threadbook and npm start do; the environment wins over it.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const main = join(root, "src", "main.ts");
const envFile = join(root, ".env");
const hasEnvFile = existsSync(envFile);
const [major, minor] = process.versions.node.split(".").map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  if (hasEnvFile) process.loadEnvFile(envFile);
  await import(main);
} else {
  const tools = join(root, ".tools", "node", "node_modules");
  const local = existsSync(tools)
    ? readdirSync(tools).filter((name) => name.startsWith("node-linux-")).map((name) => join(tools, name, "bin", "node")).find(existsSync)
    : undefined;
  if (!local) {
    process.stderr.write(`threadbook needs Node.js 22.18 or newer (this is ${process.version}); run ./threadbook once to install one.\n`);
    process.exit(1);
  }
  const result = spawnSync(local, [...(hasEnvFile ? [`--env-file=${envFile}`] : []), main, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
