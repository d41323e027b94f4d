/**
 * The adapter contract against the CLI as scripts use it: the real
 * `threadbook chat --jsonl` in a child process, its model the scripted
 * emulator, its sandbox a real Docker instance of its own.
 */
import { adapterContract } from "./adapter-contract.ts";
import { startCliChatDriver } from "./support/cli-driver.ts";

adapterContract("cli chat --jsonl", startCliChatDriver);
