/**
 * Typed reads of columns from `node:sqlite` rows. A column of the wrong type
 * means a damaged or foreign database, so it throws instead of guessing.
 */
import type { SQLOutputValue } from "node:sqlite";
import { StoreError } from "../errors.ts";

export type Row = Record<string, SQLOutputValue>;

function wrongType(column: string, expected: string, value: SQLOutputValue | undefined): StoreError {
  return new StoreError(`The database holds an unexpected value in column "${column}" (expected ${expected}).`, {
    details: { column, expected, actual: value === null ? "null" : typeof value },
  });
}

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== "string") throw wrongType(column, "text", value);
  return value;
}

export function optionalText(row: Row, column: string): string | null {
  const value = row[column];
  return value === null ? null : text(row, column);
}

export function integer(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === "bigint") return Number(value);
  if (typeof value !== "number") throw wrongType(column, "integer", value);
  return value;
}

export function optionalInteger(row: Row, column: string): number | null {
  const value = row[column];
  return value === null ? null : integer(row, column);
}

export function oneOf<T extends string>(row: Row, column: string, values: readonly T[]): T {
  const value = text(row, column);
  if (!(values as readonly string[]).includes(value)) throw wrongType(column, values.join(" | "), value);
  return value as T;
}

export function optionalOneOf<T extends string>(row: Row, column: string, values: readonly T[]): T | null {
  return row[column] === null ? null : oneOf(row, column, values);
}
