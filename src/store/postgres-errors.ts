/**
 * Turns what `pg` throws into a StoreError whose message says what failed
 * and what to check, in words a user can act on. The database is named by
 * its URL without the password (`databaseLocation`).
 */
import { StoreError } from "../errors.ts";

/** SQLSTATE classes and codes from https://www.postgresql.org/docs/current/errcodes-appendix.html */
const reasons: Record<string, string> = {
  "28P01": "the password was refused",
  "28000": "the user may not connect",
  "3D000": "the database does not exist",
  "42501": "permission denied",
  "53100": "the disk is full",
  "53300": "too many connections",
  "57P01": "the server is shutting down",
  "57P03": "the server is starting up",
  "57014": "the statement took too long",
  "40001": "a concurrent change clashed",
  "40P01": "a deadlock was broken",
};

const networkReasons: Record<string, string> = {
  ECONNREFUSED: "nothing answers at that address",
  ENOTFOUND: "the host name does not resolve",
  ETIMEDOUT: "the connection timed out",
  ECONNRESET: "the connection was reset",
  ENOENT: "no socket at that path",
  EACCES: "permission denied on the socket",
};

/** Codes worth a retry: the next attempt may well succeed. */
const retryableCodes = new Set(["40001", "40P01", "53300", "57P01", "57P03", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET"]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function reasonFor(error: unknown): string {
  const code = codeOf(error) ?? "";
  const known = reasons[code] ?? networkReasons[code];
  if (known !== undefined) return known;
  const message = messageOf(error);
  if (/timeout/i.test(message)) return "it did not answer in time";
  if (/Connection terminated|ended the connection/i.test(message)) return "the connection was lost";
  if (/pool after calling end|Client was closed/i.test(message)) return "the store is closed";
  return message;
}

/** The database's URL without its password, for messages and logs. */
export function databaseLocation(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "the database named by THREADBOOK_DATABASE_URL";
  }
}

/** For a failure while connecting to or preparing the database. */
export function postgresOpenFailure(location: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(`Cannot open the database at ${location}: ${reasonFor(error)}. Check THREADBOOK_DATABASE_URL.`, {
    retryable: retryableCodes.has(codeOf(error) ?? ""),
    details: { location, code: codeOf(error), error: messageOf(error) },
    cause: error,
  });
}

/** For a failure of one operation on an open database; `action` completes "could not …". */
export function postgresOperationFailure(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(`The database at ${location} could not ${action}: ${reasonFor(error)}.`, {
    retryable: retryableCodes.has(codeOf(error) ?? ""),
    details: { location, action, code: codeOf(error), error: messageOf(error) },
    cause: error,
  });
}
