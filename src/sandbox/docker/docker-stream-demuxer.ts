/**
 * Splits the multiplexed stream of an attached container (no TTY) into its
 * stdout and stderr payloads. Each frame is an 8-byte header (stream type in
 * byte 0, payload length big-endian in bytes 4–7) and its payload. Payloads
 * are handed on piece by piece as they arrive, so nothing here buffers more
 * than a header, whatever length a frame claims.
 */
export type StreamName = "stdout" | "stderr";

const headerBytes = 8;

export class DockerStreamDemuxer {
  readonly #onData: (stream: StreamName, data: Buffer) => void;
  readonly #header = Buffer.alloc(headerBytes);
  #headerFilled = 0;
  /** Payload bytes of the current frame still to come; 0 while reading a header. */
  #remaining = 0;
  #stream: StreamName | null = null;

  constructor(onData: (stream: StreamName, data: Buffer) => void) {
    this.#onData = onData;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining === 0) {
        const taken = Math.min(headerBytes - this.#headerFilled, chunk.length - offset);
        chunk.copy(this.#header, this.#headerFilled, offset, offset + taken);
        this.#headerFilled += taken;
        offset += taken;
        if (this.#headerFilled < headerBytes) return;
        this.#headerFilled = 0;
        const type = this.#header[0];
        // 0 is stdin, never sent back; anything else would be a broken stream: count it as stdout, which the framing then judges.
        this.#stream = type === 2 ? "stderr" : "stdout";
        this.#remaining = this.#header.readUInt32BE(4);
        continue;
      }
      const taken = Math.min(this.#remaining, chunk.length - offset);
      this.#remaining -= taken;
      this.#onData(this.#stream ?? "stdout", chunk.subarray(offset, offset + taken));
      offset += taken;
    }
  }
}
