/**
 * Hands the model's streamed text to a request's `onTextDelta`, so that the
 * pieces joined equal the step's final `text`. Whatever the callback throws
 * is dropped here: the stream is the SDK's, and an exception thrown inside
 * one of its listeners would end the stream and lose the answer.
 */
import type { ModelRequest } from "./model-client.ts";

/** Says one piece of text that belongs to the answer; empty pieces are skipped. */
export type TextSink = (delta: string) => void;

export function textSink(onTextDelta: ModelRequest["onTextDelta"]): TextSink {
  return (delta) => {
    if (onTextDelta === undefined || delta.length === 0) return;
    try {
      onTextDelta(delta);
    } catch {
      // Showing text early is a courtesy; the step's final text still carries it all.
    }
  };
}

/**
 * For an answer made of several messages joined by `separator`: says the
 * separator before the first text of each message after the first that had
 * text, as the final text's join does (messages without text are left out).
 */
export function messagesSink(sink: TextSink, separator: string): (messageId: string, delta: string) => void {
  let current: string | undefined;
  return (messageId, delta) => {
    if (delta.length === 0) return;
    if (messageId !== current) {
      if (current !== undefined) sink(separator);
      current = messageId;
    }
    sink(delta);
  };
}
