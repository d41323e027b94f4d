/**
 * The sandbox seam: a stateful Python session per conversation. Docker today
 * (src/sandbox/docker/); any other backend implements the same members.
 *
 * A failure of the user's code is data (`CellResult.error`); a failure of the
 * machinery (Docker gone, image missing, session lost) throws a SandboxError.
 */
import type { EgressGrant } from "../egress/egress-grant.ts";

export interface CellLimits {
  /** Wall-clock limit for the cell; past it the cell is interrupted. */
  timeoutMs: number;
}

export interface RunOptions extends Partial<CellLimits> {
  /** Stops the cell when it aborts: it is interrupted (variables kept), or its session restarted if it will not stop. */
  signal?: AbortSignal;
}

export interface CellError {
  /** Exception class name, e.g. "KeyError". */
  name: string;
  message: string;
  /** Traceback trimmed to the frames of the user's code. */
  traceback: string;
}

export interface SandboxFileInfo {
  /** Path relative to the working directory, with `/` separators. */
  name: string;
  bytes: number;
}

export interface FigureFile extends SandboxFileInfo {
  /**
   * The PNG itself when it comes back with the result (up to 4 MB a figure and
   * 8 MB for all of a cell's figures together); else null: read it with getFiles.
   */
  png: Buffer | null;
}

export interface CellResult {
  /** Captured stdout, head and tail kept when long (a note marks the cut). */
  stdout: string;
  stderr: string;
  /** Size of everything written, including what was cut. */
  stdoutBytes: number;
  stderrBytes: number;
  /** Rendering of the cell's last expression (DataFrames as a table), if any. */
  value: string | null;
  /** The last expression as an HTML table when it is a DataFrame (up to 100,000 characters; a longer one gives null). */
  valueHtml: string | null;
  error: CellError | null;
  /**
   * Figures the cell left open, at most 10, as PNG files in the working
   * directory: one the code saved as PNG itself under the code's file name, one
   * it saved only in another format (pdf, svg) not at all, the others as
   * `figure-<cell>.png` or `figure-<cell>-<n>.png`.
   */
  figures: FigureFile[];
  /** Names the figures past the 10 would have had; they were closed without being saved. */
  figuresOmitted: string[];
  /** Files created or changed in the working directory by this cell (figures included). */
  files: SandboxFileInfo[];
  /** Files beyond the listing bound, counted but not listed. */
  filesOmitted: number;
  durationMs: number;
  /** The cell hit its time limit and was interrupted. */
  timedOut: boolean;
  /** The cell was stopped through `RunOptions.signal`. */
  stopped: boolean;
  /**
   * The session had to be restarted to stop the cell (or it died):
   * variables are gone, the working directory's files may be gone too.
   */
  stateLost: boolean;
}

export interface InputFile {
  /** A plain file name; anything path-like is rejected. */
  name: string;
  data: Buffer;
}

export interface GetFilesOptions {
  /** Each file at most this many bytes; a larger one is left out. The session's file limit when absent. */
  maxBytes?: number;
  /** All files together at most this many bytes: reading stops there, and the files past it are left out. */
  totalBytes?: number;
  /** Stops the reading; it then rejects. */
  signal?: AbortSignal;
}

export interface OutputFile extends SandboxFileInfo {
  data: Buffer;
}

export interface FilePreview {
  name: string;
  bytes: number;
  /** e.g. "csv", "excel", "text", "binary". */
  kind: string;
  /** First lines of a text file, or the first rows of each sheet of a workbook. */
  head: string;
}

/** A name left out of a snapshot or a restore, and why (e.g. "a TextIOWrapper (TypeError: cannot pickle …)"). */
export interface NameNotKept {
  name: string;
  why: string;
}

export interface SnapshotOutcome {
  /** The saved namespace, opaque (it is unpickled only inside a sandbox); null when nothing was saved. */
  data: Buffer | null;
  /** Names saved (modules by name, to import again). */
  saved: string[];
  /** Names that could not be saved. */
  skipped: NameNotKept[];
  /** The namespace is over the bound asked for: nothing was saved. */
  overLimit: boolean;
}

export interface RestoreOutcome {
  restored: string[];
  failed: NameNotKept[];
}

/** How the session came to be, as the caller needs to tell the model. */
export type SessionOrigin =
  /** A new session for a conversation that had none. */
  | "new"
  /** The conversation's running session, state intact. */
  | "resumed";

export interface Session {
  readonly conversationKey: string;
  /** Stable id of this session's container; a new id means earlier state is gone. */
  readonly id: string;
  readonly origin: SessionOrigin;
  /** Python version inside, e.g. "3.11.2". */
  readonly pythonVersion: string;

  run(code: string, options?: RunOptions): Promise<CellResult>;
  /** Writes files into the working directory; returns what was written. */
  putFiles(files: InputFile[]): Promise<SandboxFileInfo[]>;
  /**
   * Reads the named files out of the working directory. A name that is not
   * a regular file reached without passing through a symlink, or that leaves
   * the directory, is left out, as is a file over a bound.
   */
  getFiles(names: string[], options?: GetFilesOptions): Promise<OutputFile[]>;
  /** Every regular file in the working directory. */
  listFiles(): Promise<SandboxFileInfo[]>;
  /** A first look at files, for telling the model what it was given. */
  previewFiles(names: string[]): Promise<FilePreview[]>;
  /**
   * Saves the namespace, each name on its own (one that cannot be saved costs
   * the others nothing), up to `limitBytes`; the working directory is not in it.
   */
  snapshot(limitBytes: number): Promise<SnapshotOutcome>;
  /** Puts a snapshot back into the namespace, before the session's first cell. */
  restore(data: Buffer): Promise<RestoreOutcome>;
  /**
   * Ends the hold that `acquire` took (a turn's end). A held session is never
   * removed to make room for another conversation's, nor reaped as idle.
   */
  idle(): void;
}

/** A skill as a session holds it: its folder's files, under `/skills/<name>/`. */
export interface SessionSkill {
  name: string;
  /** Relative to the skill's folder, e.g. "SKILL.md", "scripts/fiscal_calendar.py". */
  files: { path: string; data: Buffer }[];
  /**
   * The packages its SKILL.md declares (validated requirements such as
   * "tabulate>=0.9"; [] for none). A session with a door out installs them,
   * as `%pip install` does, the first time it imports one of the skill's
   * modules; a session without one imports the skill as it is, and an import
   * that fails for a missing package says the skill needs packages this session cannot install.
   */
  requirements: readonly string[];
}

export interface AcquireOptions {
  /**
   * The skills a session starts with, asked for only when a container is
   * claimed for the conversation (a new session, or one restarted after its
   * state was lost), or when `skillsVersion` says the set changed. Acquiring
   * does not wait for them: they are written while the caller goes on, and
   * the session's first cell waits until they are there. They are written under
   * `/skills/<name>/`, which the code can read and not write, and every
   * `scripts/<stem>.py` is importable as `skills.<stem>`.
   */
  skills?: () => Promise<readonly SessionSkill[]>;
  /**
   * Names the set `skills` gives (such as its versions' ids). A running
   * session that holds another set, or one it cannot tell, is given this set
   * on this acquire: the old folders go, the new ones are written, and a new
   * `skills.<stem>` imports at once (a module imported already stays as it was
   * until reloaded). Without it, a running session keeps what it holds.
   */
  skillsVersion?: string;
  /**
   * What the session's door out may do for this turn (its policy, limits and
   * audit), where the sandbox was given doors; without it every request
   * through the door is refused. Given on every acquire: the turn's byte
   * count starts afresh.
   */
  egress?: EgressGrant;
}

export interface Sandbox {
  /**
   * The conversation's session: the running one, or a new one from the warm
   * pool, held until the caller calls its `idle`. When every session slot is
   * taken, the least recently used idle session is removed first; when all are
   * held or busy, it throws a retryable `sandbox_busy` SandboxError.
   */
  acquire(conversationKey: string, options?: AcquireOptions): Promise<Session>;
  /** Ends the conversation's session and frees its resources. */
  release(conversationKey: string): Promise<void>;
  /**
   * Lets go of the conversation's session here without ending it: the
   * session runs on, for whichever process acquires it next (another replica
   * of the bot sharing the host, in turn by the conversation's lease). A
   * session held or in use is left as it is.
   */
  detach(conversationKey: string): Promise<void>;
  /** Stops background work; sessions stay running so a new process can resume them. */
  close(): Promise<void>;
}
