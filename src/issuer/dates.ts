/**
 * Date-time input as Azure DevOps takes it: ISO 8601 with or without a zone (no zone means UTC, as the service
 * reads it), a date alone meaning midnight UTC, and up to 7 fraction digits (.NET ticks). Every date has a range,
 * so that nonsense such as year 0 is a clear error instead of a database failure.
 */
import { invalid, type PatTokenError } from "./errors.js";

/** The earliest and latest instants patrol accepts for any date input. */
export const EARLIEST_DATE = new Date(Date.UTC(1970, 0, 1));
export const LATEST_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Parses a date-time, or returns null when it is not one (wrong shape, or a day or time that does not exist). */
export function parseDateTime(text: string): Date | null {
  const match = ISO_DATE_TIME.exec(text.trim());
  if (!match) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone = "Z"] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 ? (leap ? 29 : 28) : daysInMonth)) return null;
  let offsetMinutes = 0;
  if (zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (hours > 14 || minutes > 59) return null;
    offsetMinutes = (zone[0] === "-" ? -1 : 1) * (hours * 60 + minutes);
  }
  const ms = Number(fraction.padEnd(3, "0").slice(0, 3) || "0");
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear keeps the year as written.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

/**
 * A date input named `field`, checked against the accepted range; throws a 400 (`invalid`) that names the field
 * and the accepted forms.
 */
export function requireDateTime(value: string | Date, field: string, patTokenError?: PatTokenError): Date {
  const date = typeof value === "string" ? parseDateTime(value) : value;
  if (date === null || Number.isNaN(date.getTime())) {
    throw invalid(
      `${field} must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z (without a zone it is UTC)`,
      patTokenError,
    );
  }
  if (date < EARLIEST_DATE || date > LATEST_DATE) {
    throw invalid(
      `${field} must be between ${EARLIEST_DATE.toISOString()} and ${LATEST_DATE.toISOString()}`,
      patTokenError,
    );
  }
  return date;
}
