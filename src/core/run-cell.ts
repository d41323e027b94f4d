/**
 * One code call, run: the cell in the session, its audit record, its place
 * in the conversation's notebook, the result the model gets back (figures
 * as images where the model takes them) and the cell as the reply shows it.
 */
import type { CellResult, Session } from "../sandbox/sandbox.ts";
import type { Store } from "../store/store.ts";
import { cellReport } from "./cell-report.ts";
import { cellErrorText, cellOutcome } from "./cell-summary.ts";
import { figurePngs } from "./figure-pngs.ts";
import type { CodeCall, ImageInput, TranscriptItem } from "./model/model-client.ts";
import { recordNotebookCell } from "./notebook-cell.ts";
import type { ReplyCell, Turn } from "./turn.ts";

const maxImagesPerCell = 4;
const maxImageBytes = 4 * 1024 * 1024;

export interface CellRunContext {
  session: Session;
  store: Store;
  turn: Turn;
  turnId: string;
  timeoutMs: number;
  /** Send figures to the model as images. */
  images: boolean;
  /** Stops the cell (interrupted, variables kept) when it aborts. */
  signal: AbortSignal;
}

export interface RanCell {
  result: CellResult;
  /** What goes back to the model. */
  item: Extract<TranscriptItem, { type: "result" }>;
  cell: ReplyCell;
}

export async function runCell(call: CodeCall, context: CellRunContext): Promise<RanCell> {
  const { session, store, turn } = context;
  const startedAt = Date.now();
  const result = await session.run(call.code, { timeoutMs: context.timeoutMs, signal: context.signal });
  const error = cellErrorText(result);
  await store.recordCellRun({
    conversationKey: turn.conversationKey,
    turnId: context.turnId,
    user: `${turn.user.platform}:${turn.user.id}`,
    workspace: turn.user.workspace,
    startedAt,
    code: call.code,
    outcome: cellOutcome(result),
    durationMs: result.durationMs,
    error,
  });
  // A restarted session has a new id; bind it so the next turn knows this one is current.
  if (result.stateLost) await store.bindSession(turn.conversationKey, session.id);
  const pngs = await figurePngs(session, result.figures, maxImageBytes);
  await recordNotebookCell(store.notebook, turn.conversationKey, context.turnId, call.code, result, pngs);
  const images = context.images ? figureImages(pngs) : [];
  const output = cellReport(result, { figuresAttached: images.length > 0 });
  return {
    result,
    item: images.length > 0 ? { type: "result", callId: call.callId, output, images } : { type: "result", callId: call.callId, output },
    cell: { code: call.code, stdout: result.stdout, stderr: result.stderr, value: result.value, error, durationMs: result.durationMs },
  };
}

function figureImages(pngs: readonly (Buffer | null)[]): ImageInput[] {
  return pngs.flatMap((png) => (png === null ? [] : [png])).slice(0, maxImagesPerCell).map((png) => ({ mediaType: "image/png", base64: png.toString("base64") }));
}
