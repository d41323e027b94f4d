/**
 * The `prompt_cache_key` of a conversation: every request of one
 * conversation carries the same key, so the model service routes them to the
 * same prompt cache, and two conversations carry different ones. It is a
 * one-way hash of the conversation's key, never the key itself: the service
 * learns no team, channel, thread or user from it.
 */
import { createHash } from "node:crypto";

/** Separates this use of the hash from any other hash of the same key. */
const purpose = "threadbook prompt cache key v1\0";

export function promptCacheKey(conversationKey: string): string {
  // 128 bits in 32 hex characters: well under the API's 64 characters.
  return `tb-${createHash("sha256").update(purpose).update(conversationKey).digest("hex").slice(0, 32)}`;
}
