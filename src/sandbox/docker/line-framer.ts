/**
 * Cuts a byte stream into newline-terminated lines, none longer than a bound.
 * Bytes are kept only until their line ends, so what a peer sends can never
 * hold more than `maxLineBytes` of memory here. A line over the bound is
 * reported once and the framer stops: the stream can no longer be trusted.
 */
const newline = 0x0a;

export interface LineFramerHandlers {
  line(line: Buffer): void;
  tooLong(bytesWithoutNewline: number): void;
}

export class LineFramer {
  readonly #maxLineBytes: number;
  readonly #handlers: LineFramerHandlers;
  #pieces: Buffer[] = [];
  #pending = 0;
  #stopped = false;

  constructor(maxLineBytes: number, handlers: LineFramerHandlers) {
    this.#maxLineBytes = maxLineBytes;
    this.#handlers = handlers;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.#stopped && start < chunk.length) {
      const end = chunk.indexOf(newline, start);
      const piece = chunk.subarray(start, end === -1 ? chunk.length : end);
      if (this.#pending + piece.length > this.#maxLineBytes) {
        this.#stopped = true;
        this.#pieces = [];
        this.#handlers.tooLong(this.#pending + piece.length);
        return;
      }
      if (end === -1) {
        // Copied: the chunk's memory may be reused by the stream.
        this.#pieces.push(Buffer.from(piece));
        this.#pending += piece.length;
        return;
      }
      const line = this.#pieces.length === 0 ? piece : Buffer.concat([...this.#pieces, piece]);
      this.#pieces = [];
      this.#pending = 0;
      start = end + 1;
      this.#handlers.line(line);
    }
  }

  /** Ends the framer; bytes after it are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#pieces = [];
  }
}
