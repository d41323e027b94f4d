/**
 * What the runner may send, as schemas. Every line from a container is
 * untrusted: it is parsed and checked against these, with a bound on every
 * string and list, before anything of it is used. A reply that does not fit
 * is a protocol violation, and the session is restarted.
 */
import { z } from "zod";

/** Figures one cell may return, and the PNG bytes that may travel inline with its result. */
export const MAX_FIGURES_PER_CELL = 10;
export const MAX_INLINE_FIGURE_BYTES = 8 * 1024 * 1024;
/** The runtime's own bounds (sandbox/runtime/), with room for its notes. */
const valueChars = 20_000 + 200;
const valueHtmlChars = 100_000;
const tracebackChars = 8_000 + 200;
const messageChars = 2_000 + 200;
const maxListedFiles = 500;
const maxOmittedNames = 1_000;
const maxPathChars = 4_096;
const maxPreviews = 100;
const previewChars = 64_000;

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const path = z.string().min(1).max(maxPathChars);
const fileInfo = z.object({ name: path, bytes: count });

/** Every reply names the request it answers; `ok: false` carries the runner's own failure. */
export const replyEnvelope = z.object({
  id: z.number().int(),
  ok: z.boolean().optional(),
  fault: z.string().max(messageChars).optional(),
  /** With `ok: false`: the kernel stopped while it held the request, and why; a new one was started. */
  lost: z.string().max(messageChars).optional(),
});

/** The line a runner sends once it is ready (id 0, before any request). */
export const readyLine = z.object({ id: z.literal(0), op: z.literal("ready") });

export const pingReply = z.object({ ok: z.literal(true), python: z.string().max(32) });

export const baselineReply = z.object({ ok: z.literal(true) });

export const restartReply = z.object({ ok: z.literal(true) });

const nameNotKept = z.object({ name: z.string().max(maxPathChars), why: z.string().max(messageChars) });
const maxSnapshotNames = 2_000;

export const snapshotReply = z.object({
  ok: z.literal(true),
  bytes: count,
  saved: z.array(z.string().max(maxPathChars)).max(maxSnapshotNames),
  skipped: z.array(nameNotKept).max(maxSnapshotNames),
  over: z.boolean(),
});

export const restoreReply = z.object({
  ok: z.literal(true),
  restored: z.array(z.string().max(maxPathChars)).max(maxSnapshotNames),
  failed: z.array(nameNotKept).max(maxSnapshotNames + 1),
});

export const filesReply = z.object({ ok: z.literal(true), files: z.array(fileInfo).max(100_000), omitted: count });

export const previewReply = z.object({
  ok: z.literal(true),
  previews: z.array(z.object({ name: path, bytes: count, kind: z.string().max(32), head: z.string().max(previewChars) })).max(maxPreviews),
});

const base64Png = z.string().max(Math.ceil(MAX_INLINE_FIGURE_BYTES / 3) * 4).regex(/^[A-Za-z0-9+/]*={0,2}$/);

/** A cell's result; stream text is bounded by the session's output setting. */
export function runReply(outputChars: number) {
  const streamText = z.string().max(outputChars + 200);
  return z.object({
    ok: z.literal(true),
    stdout: streamText,
    stderr: streamText,
    stdout_bytes: count,
    stderr_bytes: count,
    value: z.string().max(valueChars).nullable(),
    value_html: z.string().max(valueHtmlChars).nullable().default(null),
    error: z.object({ name: z.string().max(200), message: z.string().max(messageChars), traceback: z.string().max(tracebackChars) }).nullable(),
    figures: z.array(fileInfo.extend({ png: base64Png.optional() })).max(MAX_FIGURES_PER_CELL)
      .refine((figures) => figures.reduce((sum, figure) => sum + (figure.png?.length ?? 0), 0) <= Math.ceil(MAX_INLINE_FIGURE_BYTES / 3) * 4, "inline figures over their bound"),
    figures_omitted: z.array(z.string().max(maxPathChars)).max(maxOmittedNames).default([]),
    files: z.array(fileInfo).max(maxListedFiles),
    files_omitted: count,
    duration_ms: z.number().nonnegative().max(1e9),
    timed_out: z.boolean(),
  });
}

export type RunReply = z.infer<ReturnType<typeof runReply>>;

/**
 * The longest line a well-behaved runner sends: a cell's result with every
 * field at its bound (inline figures, escaped text, long names), or a long
 * working-directory listing. The runner keeps its listings under 16 MiB.
 */
export function maxReplyLineBytes(outputChars: number): number {
  return 24 * 1024 * 1024 + 12 * outputChars;
}
