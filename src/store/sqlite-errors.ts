/**
 * Turns what `node:fs` and `node:sqlite` throw into a StoreError whose message
 * says what failed and what to check, in words a user can act on.
 */
import { accessSync, constants } from "node:fs";
import { StoreError } from "../errors.ts";

// Primary result codes from https://www.sqlite.org/rescode.html
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

const fileSystemReasons: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "a part of the path is not a directory",
  ENOSPC: "the disk is full",
  ENOENT: "a part of the path does not exist",
};

function sqliteResultCode(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("errcode" in error)) return undefined;
  const code = error.errcode;
  // node:sqlite may report an extended code; its low byte is the primary code.
  return typeof code === "number" ? code & 0xff : undefined;
}

function fileSystemCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why a directory cannot hold the database, or undefined if it looks fine. */
function directoryProblem(directory: string): string | undefined {
  try {
    accessSync(directory, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    return fileSystemReasons[fileSystemCode(error) ?? ""] ?? messageOf(error);
  }
}

function reasonFor(error: unknown): string {
  switch (sqliteResultCode(error)) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "the database is locked by another connection";
    case SQLITE_READONLY:
      return "permission denied (the database file is read-only)";
    case SQLITE_IOERR:
      return "a disk I/O error occurred";
    case SQLITE_CORRUPT:
      return "the database file is damaged";
    case SQLITE_FULL:
      return "the disk is full";
    case SQLITE_NOTADB:
      return "the file is not a SQLite database";
  }
  return fileSystemReasons[fileSystemCode(error) ?? ""] ?? messageOf(error);
}

function isRetryable(error: unknown): boolean {
  const code = sqliteResultCode(error);
  return code === SQLITE_BUSY || code === SQLITE_LOCKED;
}

/** For a failure while creating the data directory or opening the database in it. */
export function openFailure(location: string, directory: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const reason = sqliteResultCode(error) === SQLITE_CANTOPEN
    ? directoryProblem(directory) ?? "the file cannot be opened"
    : reasonFor(error);
  return new StoreError(`Cannot open the database at ${location}: ${reason}. Check THREADBOOK_DATA_DIR.`, {
    retryable: isRetryable(error),
    details: { location, error: messageOf(error) },
    cause: error,
  });
}

/** For a failure of one operation on an open database; `action` completes "could not …". */
export function operationFailure(location: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(`The database at ${location} could not ${action}: ${reasonFor(error)}.`, {
    retryable: isRetryable(error),
    details: { location, action, error: messageOf(error) },
    cause: error,
  });
}

/** For a failure on a kept attachment's file; `action` completes "could not …", e.g. "keep the attachment at". */
export function fileFailure(path: string, action: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  return new StoreError(`Could not ${action} ${path}: ${reasonFor(error)}.`, {
    details: { path, action, error: messageOf(error) },
    cause: error,
  });
}
