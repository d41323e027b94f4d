/** The NotebookStore on the SQLite database of sqlite-store.ts (tables of migration 7). */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { StoreError } from "../errors.ts";
import type { NotebookAttachment, NotebookCellInput, NotebookCellRecord, NotebookFigure, NotebookStore, NotebookTurnRecord } from "./notebook-store.ts";
import { toCell, toNotebookTurn } from "./notebook-records.ts";
import { integer, text } from "./sqlite-rows.ts";
import type { Transaction } from "./sqlite-transaction.ts";

type Guard = <T>(action: string, work: () => T) => Promise<T>;

function prepareStatements(database: DatabaseSync) {
  const prepare = (sql: string): StatementSync => database.prepare(sql);
  return {
    turnConversation: prepare("SELECT conversation_key FROM turns WHERE id = ?"),
    insertTurn: prepare("INSERT OR IGNORE INTO notebook_turns (turn_id, conversation_key, attachments_json) VALUES (?, ?, ?)"),
    insertCell: prepare(
      `INSERT INTO notebook_cells (turn_id, code, stdout, stderr, value_text, value_html, error_name, error_message, error_traceback, figures_omitted_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertFigure: prepare("INSERT INTO notebook_figures (cell_id, position, name, png) VALUES (?, ?, ?, ?)"),
    setAnswer: prepare("UPDATE notebook_turns SET answer = ? WHERE turn_id = ?"),
    figureBytes: prepare(
      `SELECT coalesce(sum(length(f.png)), 0) AS bytes FROM notebook_figures f
       JOIN notebook_cells c ON c.id = f.cell_id JOIN notebook_turns t ON t.turn_id = c.turn_id
       WHERE t.conversation_key = ?`,
    ),
    conversationExists: prepare("SELECT 1 AS found FROM conversations WHERE key = ?"),
    turns: prepare(
      `SELECT t.id, t.user_platform, t.user_id, t.user_workspace, t.user_display_name, t.text, t.started_at, n.attachments_json, n.answer
       FROM notebook_turns n JOIN turns t ON t.id = n.turn_id
       WHERE n.conversation_key = ? ORDER BY t.started_at, t.rowid`,
    ),
    cells: prepare(
      `SELECT c.id, c.turn_id, c.code, c.stdout, c.stderr, c.value_text, c.value_html, c.error_name, c.error_message, c.error_traceback, c.figures_omitted_json
       FROM notebook_cells c JOIN notebook_turns t ON t.turn_id = c.turn_id
       WHERE t.conversation_key = ? ORDER BY c.id`,
    ),
    figures: prepare(
      `SELECT f.cell_id, f.name, f.png FROM notebook_figures f
       JOIN notebook_cells c ON c.id = f.cell_id JOIN notebook_turns t ON t.turn_id = c.turn_id
       WHERE t.conversation_key = ? ORDER BY f.cell_id, f.position`,
    ),
    deleteConversation: prepare("DELETE FROM notebook_turns WHERE conversation_key = ?"),
  };
}

export class SqliteNotebookStore implements NotebookStore {
  readonly #statements: ReturnType<typeof prepareStatements>;
  readonly #transaction: Transaction;
  readonly #guard: Guard;

  constructor(database: DatabaseSync, transaction: Transaction, guard: Guard) {
    this.#statements = prepareStatements(database);
    this.#transaction = transaction;
    this.#guard = guard;
  }

  recordTurn(turnId: string, attachments: readonly NotebookAttachment[]): Promise<void> {
    return this.#guard("record a turn in the notebook", () => {
      const row = this.#statements.turnConversation.get(turnId);
      if (row === undefined) throw new StoreError(`The database has no turn with id ${turnId} to add to a notebook.`, { details: { turnId } });
      const kept = attachments.map((attachment) => ({ name: attachment.name, bytes: attachment.bytes }));
      this.#statements.insertTurn.run(turnId, text(row, "conversation_key"), JSON.stringify(kept));
    });
  }

  recordCell(input: NotebookCellInput): Promise<void> {
    return this.#guard("record a cell in the notebook", () =>
      this.#transaction(() => {
        const { error } = input;
        const result = this.#statements.insertCell.run(
          input.turnId, input.code, input.stdout, input.stderr, input.valueText, input.valueHtml,
          error?.name ?? null, error?.message ?? null, error?.traceback ?? null, JSON.stringify(input.figuresOmitted),
        );
        const cellId = Number(result.lastInsertRowid);
        input.figures.forEach((figure, position) => this.#statements.insertFigure.run(cellId, position, figure.name, figure.png));
      }),
    );
  }

  recordAnswer(turnId: string, answer: string): Promise<void> {
    return this.#guard("record a turn's answer in the notebook", () => {
      this.#statements.setAnswer.run(answer, turnId);
    });
  }

  figureBytes(conversationKey: string): Promise<number> {
    return this.#guard("measure a notebook's figures", () => integer(this.#statements.figureBytes.get(conversationKey) ?? { bytes: 0 }, "bytes"));
  }

  loadNotebook(conversationKey: string): Promise<NotebookTurnRecord[] | null> {
    return this.#guard("read a notebook", () =>
      this.#transaction(() => {
        if (this.#statements.conversationExists.get(conversationKey) === undefined) return null;
        const figures = new Map<number, NotebookFigure[]>();
        for (const row of this.#statements.figures.all(conversationKey)) {
          const cellId = integer(row, "cell_id");
          const png = row.png;
          if (!(png instanceof Uint8Array)) throw new StoreError('The database holds an unexpected value in column "png" (expected a blob).');
          figures.set(cellId, [...(figures.get(cellId) ?? []), { name: text(row, "name"), png: Buffer.from(png) }]);
        }
        const cells = new Map<string, NotebookCellRecord[]>();
        for (const row of this.#statements.cells.all(conversationKey)) {
          const cell = toCell(row, conversationKey, figures.get(integer(row, "id")) ?? []);
          cells.set(cell.turnId, [...(cells.get(cell.turnId) ?? []), cell]);
        }
        return this.#statements.turns.all(conversationKey).map((row) => toNotebookTurn(row, cells.get(text(row, "id")) ?? []));
      }),
    );
  }

  /** Part of a reset's transaction (sqlite-store.ts): the conversation's notebook goes with its transcript. */
  deleteConversation(conversationKey: string): void {
    this.#statements.deleteConversation.run(conversationKey);
  }
}
