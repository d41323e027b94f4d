/**
 * The adapter contract against Discord: the bot wired as `threadbook start`
 * wires it, the real discord.js client against the Discord emulator, the
 * real agent, a real Docker sandbox of its own and SQLite.
 */
import { adapterContract } from "./adapter-contract.ts";
import { startDiscordDriver } from "./support/discord-driver.ts";

adapterContract("discord", startDiscordDriver);
