/**
 * The adapter contract against Slack: the real `threadbook start` in a child
 * process, in Socket Mode against the Slack emulator, its model the scripted
 * emulator, its sandbox a real Docker instance of its own. Once as Slack's AI
 * apps show a turn (a streamed message with task cards), once with streaming
 * off (a status message, then the answer and the code as messages).
 */
import { adapterContract } from "./adapter-contract.ts";
import { slackDriverFactory } from "./support/slack-driver.ts";

adapterContract("slack, streamed", slackDriverFactory({ streaming: true }));
adapterContract("slack, streaming off", slackDriverFactory({ streaming: false }));
