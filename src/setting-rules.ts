/**
 * How one setting is read from its text, as a .env file writes it. A value
 * that does not fit is refused in plain words, with the allowed range and the
 * value given: "must be a whole number from 0 to 200 (got 1.5)". An unset
 * setting takes its default (config.ts treats an empty value as unset).
 */
import { z } from "zod";

/** How much of a refused value the message repeats. */
const shownChars = 60;

/**
 * A setting read by `read`, which returns undefined for text that does not fit.
 * `must` completes "must be …"; `secret` keeps the value out of the message.
 */
export function setting<T>(fallback: T, read: (text: string) => T | undefined, must: string, options: { secret?: boolean } = {}) {
  return z.string().optional().transform((text, context): T => {
    if (text === undefined) return fallback;
    const value = read(text.trim());
    if (value === undefined) {
      const got = options.secret ? "" : ` (got ${shown(text)})`;
      context.addIssue({ code: "custom", message: `must be ${must}${got}`, input: text });
      return z.NEVER;
    }
    return value;
  });
}

const wholePattern = /^[+-]?\d+$/;
const decimalPattern = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function wholeNumber<T extends number | undefined>(fallback: T, min: number, max: number) {
  return setting<number | T>(
    fallback,
    (text) => {
      if (!wholePattern.test(text)) return undefined;
      const value = Number(text);
      return value >= min && value <= max ? value : undefined;
    },
    `a whole number from ${min} to ${max}`,
  );
}

/** A number above 0, fractions allowed, e.g. seconds or CPUs. */
export function positiveNumber(fallback: number, max: number, unit = "") {
  return setting(
    fallback,
    (text) => {
      if (!decimalPattern.test(text)) return undefined;
      const value = Number(text);
      return value > 0 && value <= max ? value : undefined;
    },
    `a number${unit ? ` of ${unit}` : ""} above 0 and at most ${max}`,
  );
}

const flagWords: Record<string, boolean> = { "1": true, true: true, yes: true, on: true, "0": false, false: false, no: false, off: false };

export function flag(fallback: boolean) {
  return setting(fallback, (text) => flagWords[text.toLowerCase()], "one of true, false, 1, 0, yes, no, on, off");
}

export function choice<const T extends string>(fallback: T, choices: readonly T[]) {
  const must = choices.length === 2 ? `'${choices[0]}' or '${choices[1]}'` : `one of ${choices.join(", ")}`;
  return setting<T>(fallback, (text) => choices.find((candidate) => candidate === text.toLowerCase()), must);
}

export function text<T extends string | undefined>(fallback: T, options: { secret?: boolean } = {}) {
  return setting<string | T>(fallback, (value) => value, "text", options);
}

export function matching<T extends string | undefined>(fallback: T, pattern: RegExp, must: string) {
  return setting<string | T>(fallback, (value) => (pattern.test(value) ? value : undefined), must);
}

/** Comma-separated ids such as Slack's T0123, C0123, U0123; unset: an empty list. */
export function idList() {
  return setting<string[]>(
    [],
    (value) => {
      const ids = value.split(",").map((id) => id.trim()).filter((id) => id !== "");
      return ids.every((id) => /^[A-Z0-9]{2,32}$/.test(id)) ? ids : undefined;
    },
    "comma-separated ids of capital letters and digits, such as T0123ABCD,T0456EFGH",
  );
}

/** Whole numbers, comma-separated and each from 0 to `max`, without repeats: such as Discord shard ids. */
export function wholeNumberList(max: number) {
  return setting<number[] | undefined>(
    undefined,
    (value) => {
      const items = value.split(",").map((item) => item.trim()).filter((item) => item !== "");
      if (items.length === 0 || !items.every((item) => wholePattern.test(item))) return undefined;
      const numbers = items.map(Number);
      return numbers.every((number) => number <= max) && new Set(numbers).size === numbers.length ? numbers : undefined;
    },
    `comma-separated whole numbers from 0 to ${max}, each once, such as 0,1`,
  );
}

export function httpUrl() {
  return setting<string | undefined>(
    undefined,
    (value) => (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol) ? value : undefined),
    "an http:// or https:// URL such as https://api.example.com/v1",
  );
}

/** Comma-separated Discord ids (snowflakes), e.g. "123456789012345678,234567890123456789"; unset: an empty list. */
export function snowflakeList() {
  return setting<string[]>(
    [],
    (value) => {
      const ids = value.split(",").map((id) => id.trim()).filter((id) => id !== "");
      return ids.length > 0 && ids.every((id) => /^\d{1,20}$/.test(id)) ? ids : undefined;
    },
    "ids separated by commas, digits only, such as 123456789012345678,234567890123456789",
  );
}

function shown(value: string): string {
  return value.length > shownChars ? `${value.slice(0, shownChars)}…` : value;
}
