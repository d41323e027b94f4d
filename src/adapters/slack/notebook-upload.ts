/**
 * The thread as a Jupyter notebook, uploaded into it (`files.uploadV2`):
 * what the reply's "Export notebook" button and `export` in the thread do.
 * The notebook comes from the core; a failure is said in the thread.
 */
import type { WebClient } from "@slack/web-api";
import type { Agent } from "../../core/agent.ts";
import { userMessage } from "../../errors.ts";
import type { Logger } from "../../log.ts";

export interface NotebookPlace {
  channel: string;
  rootTs: string;
  /** Who asked for it, told when the thread has no notebook. */
  user: string;
}

export const noNotebookNote = "This thread has no notebook yet: ask me a question first.";

export async function uploadNotebook(client: WebClient, agent: Pick<Agent, "exportNotebook">, key: string, place: NotebookPlace, logger: Logger): Promise<void> {
  let notebook;
  try {
    notebook = await agent.exportNotebook(key);
  } catch (error) {
    logger.warn({ err: error }, "could not build the thread's notebook");
    await say(client, place, `Could not export the notebook: ${userMessage(error)}`, logger);
    return;
  }
  if (notebook === null) {
    await client.chat.postEphemeral({ channel: place.channel, user: place.user, thread_ts: place.rootTs, text: noNotebookNote })
      .catch((error: unknown) => logger.warn({ err: error }, "could not post an ephemeral note"));
    return;
  }
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  try {
    await client.filesUploadV2({
      channel_id: place.channel,
      thread_ts: place.rootTs,
      initial_comment: `This thread as a Jupyter notebook: ${count(notebook.questions, "question")}, ${count(notebook.codeCells, "code cell")}.`,
      file_uploads: [{ file: notebook.data, filename: notebook.name, title: notebook.name }],
    });
  } catch (error) {
    logger.warn({ err: error }, "could not upload the notebook");
    await say(client, place, `Could not upload ${notebook.name} to Slack. The details are in threadbook's log.`, logger);
  }
}

async function say(client: WebClient, place: NotebookPlace, text: string, logger: Logger): Promise<void> {
  await client.chat.postMessage({ channel: place.channel, thread_ts: place.rootTs, text }).catch((error: unknown) => logger.warn({ err: error }, "could not post to the thread"));
}
