/**
 * The items of the turn being run: what the model is sent beside the earlier
 * turns, and what is saved to the store as the turn goes, a step at a time,
 * so every saved code call has its result.
 */
import type { Store } from "../store/store.ts";
import type { TranscriptItem } from "./model/model-client.ts";

/** Images sent with a request, newest first; older figures are described in text only. */
const maxImagesInRequest = 4;

export class TurnTranscript {
  readonly items: TranscriptItem[] = [];
  #saved = 0;

  push(...items: TranscriptItem[]): void {
    this.items.push(...items);
  }

  /** Earlier turns followed by this one, images kept on the latest figures only. */
  forModel(history: TranscriptItem[]): TranscriptItem[] {
    let images = 0;
    const current = this.items.toReversed().map((item) => {
      if (item.type !== "result" || item.images === undefined) return item;
      const room = Math.max(0, maxImagesInRequest - images);
      images += Math.min(room, item.images.length);
      return room >= item.images.length ? item : { ...item, images: item.images.slice(0, room) };
    });
    return [...history, ...current.reverse()];
  }

  /** Gives each tool call still without a result one saying why, so the transcript stays well-formed. */
  closeOpenCalls(reason: string): void {
    const answered = new Set(this.items.flatMap((item) => (item.type === "result" ? [item.callId] : [])));
    for (const item of [...this.items]) {
      if ((item.type === "code" || item.type === "proposal") && !answered.has(item.callId)) this.items.push({ type: "result", callId: item.callId, output: reason });
    }
  }

  /** Appends the items not saved yet. */
  async save(store: Store, conversationKey: string, turnId: string): Promise<void> {
    const saving = this.items.length;
    await store.appendTranscript(conversationKey, turnId, this.items.slice(this.#saved, saving));
    this.#saved = saving;
  }
}
