/**
 * The reply as scripts read it (`ask --json`, one line per reply in
 * `chat --jsonl`). Fields may be added, never removed or renamed.
 */
import type { ProposedSkill, Reply } from "../../core/turn.ts";

export interface JsonReply {
  text: string;
  cells: { code: string; stdout: string; stderr: string; value: string | null; error: string | null; durationMs: number }[];
  files: { name: string; bytes: number; image: boolean; mediaType: string; path?: string }[];
  filesOmitted: string[];
  limit: string | null;
  error: string | null;
  /** Who stopped the turn, when a person did. */
  stoppedBy: string | null;
  /** The conversation key to pass to --conversation, when the conversation can be continued. */
  conversation: string | null;
  /**
   * Skills the model proposed in this turn, as stored: `id`, `name`, `scope`,
   * `version`, `description` and `status` ("proposed": waiting for
   * `threadbook skills approve NAME`; "approved": THREADBOOK_SKILLS_AUTO_APPROVE).
   */
  proposedSkills: ProposedSkill[];
}

export function toJsonReply(reply: Reply, options: { written?: Map<string, string>; conversation?: string | null } = {}): JsonReply {
  return {
    text: reply.text,
    cells: reply.cells.map((cell) => ({
      code: cell.code,
      stdout: cell.stdout,
      stderr: cell.stderr,
      value: cell.value,
      error: cell.error,
      durationMs: Math.round(cell.durationMs),
    })),
    files: reply.files.map((file) => {
      const path = options.written?.get(file.name);
      const described = { name: file.name, bytes: file.bytes, image: file.image, mediaType: file.mediaType };
      return path === undefined ? described : { ...described, path };
    }),
    filesOmitted: reply.filesOmitted,
    limit: reply.limit,
    error: reply.error,
    stoppedBy: reply.stoppedBy,
    conversation: options.conversation ?? null,
    proposedSkills: reply.proposedSkills.map((skill) => ({ ...skill })),
  };
}

/** A reply for a request that never ran, e.g. a JSONL line that is not a request. */
export function jsonError(message: string): JsonReply {
  return { text: "", cells: [], files: [], filesOmitted: [], limit: null, error: message, stoppedBy: null, conversation: null, proposedSkills: [] };
}
