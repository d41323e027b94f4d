/** The NotebookStore on the Postgres database of postgres-store.ts (tables of migration 7). */
import { StoreError } from "../errors.ts";
import type { NotebookAttachment, NotebookCellInput, NotebookCellRecord, NotebookFigure, NotebookStore, NotebookTurnRecord } from "./notebook-store.ts";
import { toCell, toNotebookTurn } from "./notebook-records.ts";
import type { PostgresDatabase } from "./postgres-database.ts";
import { integer, text, type Row } from "./sqlite-rows.ts";

export class PostgresNotebookStore implements NotebookStore {
  readonly #database: PostgresDatabase;

  constructor(database: PostgresDatabase) {
    this.#database = database;
  }

  recordTurn(turnId: string, attachments: readonly NotebookAttachment[]): Promise<void> {
    const kept = attachments.map((attachment) => ({ name: attachment.name, bytes: attachment.bytes }));
    return this.#database.transaction("record a turn in the notebook", async (query) => {
      const [row] = (await query("SELECT conversation_key FROM turns WHERE id = $1", [turnId])).rows;
      if (row === undefined) throw new StoreError(`The database has no turn with id ${turnId} to add to a notebook.`, { details: { turnId } });
      await query(
        "INSERT INTO notebook_turns (turn_id, conversation_key, attachments_json) VALUES ($1, $2, $3) ON CONFLICT (turn_id) DO NOTHING",
        [turnId, text(row as Row, "conversation_key"), JSON.stringify(kept)],
      );
    });
  }

  recordCell(input: NotebookCellInput): Promise<void> {
    const { error } = input;
    return this.#database.transaction("record a cell in the notebook", async (query) => {
      const [row] = (await query(
        `INSERT INTO notebook_cells (turn_id, code, stdout, stderr, value_text, value_html, error_name, error_message, error_traceback, figures_omitted_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
        [input.turnId, input.code, input.stdout, input.stderr, input.valueText, input.valueHtml,
          error?.name ?? null, error?.message ?? null, error?.traceback ?? null, JSON.stringify(input.figuresOmitted)],
      )).rows;
      const cellId = integer((row ?? {}) as Row, "id");
      for (const [position, figure] of input.figures.entries()) {
        await query("INSERT INTO notebook_figures (cell_id, position, name, png) VALUES ($1, $2, $3, $4)", [cellId, position, figure.name, figure.png]);
      }
    });
  }

  async recordAnswer(turnId: string, answer: string): Promise<void> {
    await this.#database.query("record a turn's answer in the notebook", "UPDATE notebook_turns SET answer = $1 WHERE turn_id = $2", [answer, turnId]);
  }

  async figureBytes(conversationKey: string): Promise<number> {
    const [row] = (await this.#database.query(
      "measure a notebook's figures",
      `SELECT coalesce(sum(octet_length(f.png)), 0)::bigint AS bytes FROM notebook_figures f
       JOIN notebook_cells c ON c.id = f.cell_id JOIN notebook_turns t ON t.turn_id = c.turn_id
       WHERE t.conversation_key = $1`,
      [conversationKey],
    )).rows;
    return integer((row ?? { bytes: 0 }) as Row, "bytes");
  }

  loadNotebook(conversationKey: string): Promise<NotebookTurnRecord[] | null> {
    // One snapshot of the three reads, so a cell recorded meanwhile is in all of them or none.
    return this.#database.transaction("read a notebook", async (query) => {
      await query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if ((await query("SELECT 1 FROM conversations WHERE key = $1", [conversationKey])).rowCount === 0) return null;
      const figures = new Map<number, NotebookFigure[]>();
      const figureRows = await query(
        `SELECT f.cell_id, f.name, f.png FROM notebook_figures f
         JOIN notebook_cells c ON c.id = f.cell_id JOIN notebook_turns t ON t.turn_id = c.turn_id
         WHERE t.conversation_key = $1 ORDER BY f.cell_id, f.position`,
        [conversationKey],
      );
      for (const row of figureRows.rows as Row[]) {
        const cellId = integer(row, "cell_id");
        const png = row["png"];
        if (!(png instanceof Uint8Array)) throw new StoreError('The database holds an unexpected value in column "png" (expected bytes).');
        figures.set(cellId, [...(figures.get(cellId) ?? []), { name: text(row, "name"), png: Buffer.from(png) }]);
      }
      const cells = new Map<string, NotebookCellRecord[]>();
      const cellRows = await query(
        `SELECT c.id, c.turn_id, c.code, c.stdout, c.stderr, c.value_text, c.value_html, c.error_name, c.error_message, c.error_traceback, c.figures_omitted_json
         FROM notebook_cells c JOIN notebook_turns t ON t.turn_id = c.turn_id
         WHERE t.conversation_key = $1 ORDER BY c.id`,
        [conversationKey],
      );
      for (const row of cellRows.rows as Row[]) {
        const cell = toCell(row, conversationKey, figures.get(integer(row, "id")) ?? []);
        cells.set(cell.turnId, [...(cells.get(cell.turnId) ?? []), cell]);
      }
      const turnRows = await query(
        `SELECT t.id, t.user_platform, t.user_id, t.user_workspace, t.user_display_name, t.text, t.started_at, n.attachments_json, n.answer
         FROM notebook_turns n JOIN turns t ON t.id = n.turn_id
         WHERE n.conversation_key = $1 ORDER BY t.started_at, t.seq`,
        [conversationKey],
      );
      return (turnRows.rows as Row[]).map((row) => toNotebookTurn(row, cells.get(text(row, "id")) ?? []));
    });
  }
}
