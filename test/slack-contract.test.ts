/**
 * The adapter contract against Slack: the real `threadbook start` in a child
 * process against the Slack emulator, its model the scripted emulator, its
 * sandbox a real Docker instance of its own. In Socket Mode: once as Slack's
 * AI apps show a turn (a streamed message with task cards), once with
 * streaming off (a status message, then the answer and the code as
 * messages). In HTTP mode (signed requests to the bot's request URL), once,
 * streamed: the way in differs, what the user sees does not.
 */
import { adapterContract } from "./adapter-contract.ts";
import { slackDriverFactory } from "./support/slack-driver.ts";

adapterContract("slack, streamed", slackDriverFactory({ streaming: true }));
adapterContract("slack, streaming off", slackDriverFactory({ streaming: false }));
adapterContract("slack over HTTP, streamed", slackDriverFactory({ streaming: true, mode: "http" }));
