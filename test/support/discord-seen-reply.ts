/**
 * A Discord reply as a user reads it, for the adapter contract: the text of
 * the reply's messages outside the cells, each cell (a "**Cell N**" heading,
 * its ```python block, then its output block; long code or output attached
 * whole as cell-N.py / cell-N-output.txt), and every other attachment,
 * downloaded from where Discord serves it.
 */
import type { SeenCell, SeenReply } from "../adapter-contract.ts";
import { textDisplays, type ApiMessage } from "../emulators/discord-server.ts";

const cellHeading = /^\*\*Cell (\d+)\*\* · /;
/** The adapter breaks a fence inside a code block with a zero-width space; the user copies it back as a fence. */
const brokenFence = /`\u200b``/g;

export async function seenReply(messages: ApiMessage[]): Promise<SeenReply> {
  const lines = messages.flatMap((message) => textDisplays(message.components)).join("\n\n").split("\n");
  const text: string[] = [];
  const cells: (SeenCell & { number: number })[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const heading = cellHeading.exec(lines[index] ?? "");
    if (heading === null || lines[index + 1] !== "```python") {
      text.push(lines[index] ?? "");
      continue;
    }
    const code = fencedBlock(lines, index + 1);
    index = code.end;
    let output = "";
    let next = index + 1;
    while (lines[next] === "") next += 1;
    if (lines[next] === "```") {
      const block = fencedBlock(lines, next);
      output = block.content;
      index = block.end;
    }
    cells.push({ number: Number(heading[1]), code: code.content, output });
  }
  const attachments = messages.flatMap((message) => message.attachments);
  const downloaded = await Promise.all(attachments.map(async (attachment) => ({ name: attachment.filename, data: await download(attachment.url) })));
  const files = downloaded.filter((file) => {
    const whole = /^cell-(\d+)(-output)?\.(py|txt)$/.exec(file.name);
    const cell = whole === null ? undefined : cells.find((candidate) => candidate.number === Number(whole[1]));
    if (cell === undefined || whole === null) return true;
    if (whole[2] === undefined) cell.code = file.data.toString("utf8");
    else cell.output = file.data.toString("utf8");
    return false;
  });
  return {
    text: text.join("\n").trim(),
    cells: cells.map(({ code, output }) => ({ code, output })),
    files,
  };
}

/** The lines between the fence opened at `open` and its closing fence. */
function fencedBlock(lines: string[], open: number): { content: string; end: number } {
  let end = open + 1;
  while (end < lines.length && lines[end] !== "```") end += 1;
  return { content: lines.slice(open + 1, end).join("\n").replace(brokenFence, "```"), end };
}

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download of ${url} failed: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}
