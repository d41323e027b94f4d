/** Discord's limits on one message (Components V2), and the adapter's own bounds on what a reply shows inline. */
export const messageLimits = {
  /** Characters of text across all text displays of a message. */
  textChars: 4_000,
  /** Components in a message, nested ones counted. */
  components: 40,
  /** Attachments in a message. */
  attachments: 10,
  /** Items in one media gallery. */
  galleryItems: 10,
} as const;

/** A cell's code shown inline up to this; longer code is shown head and tail and attached whole. */
export const inlineCodeChars = 1_200;
/** A cell's output shown inline up to this; longer output is shown head and tail and attached whole. */
export const inlineOutputChars = 1_000;
/** When the interaction does not say (a message, not a command): Discord's upload limit without boosts. */
export const defaultUploadLimitBytes = 10 * 1024 * 1024;

/** Accent colours of a reply's container. */
export const accentColours = { working: 0x5865f2, done: 0x3ba55d, stopped: 0xfaa61a, failed: 0xed4245 } as const;
