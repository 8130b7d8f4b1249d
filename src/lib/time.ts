/**
 * Times as CRMs write them, read strictly. `Date.parse` is no parser for data from outside:
 * it reads "1" as 2001-01-01 and "March 7" as a date in 2001, rolls 2025-02-31 over to
 * March 3, and reads a time without an offset in the server's own zone.
 */

// YYYY-MM-DD, then optionally a time (T or a space) to the minute, second or fraction, then
// optionally Z or an offset (+hh, +hhmm, +hh:mm).
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (year: number, month: number) => [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];

/**
 * A UTC instant from calendar fields, or null when one is out of its range (month 13, a
 * 31st of February, 24:00, minute 60). Years 0 to 99 stay themselves (`Date.UTC` would read
 * them as 1900 to 1999). The offset is in minutes east of UTC.
 */
export function utcFromFields(f: {
  year: number;
  month: number;
  day: number;
  hour?: number;
  minute?: number;
  second?: number;
  ms?: number;
  offsetMinutes?: number;
}): Date | null {
  const { year, month, day, hour = 0, minute = 0, second = 0, ms = 0, offsetMinutes = 0 } = f;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59 || Math.abs(offsetMinutes) >= 24 * 60) return null;
  const d = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  d.setUTCFullYear(year);
  return new Date(d.getTime() - offsetMinutes * 60_000);
}

/** Minutes east of UTC from "Z", "+05", "-0430" or "+05:30"; 0 when absent. Null when out of range. */
export function offsetMinutesOf(zone: string | undefined): number | null {
  if (!zone || zone.toUpperCase() === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (hours > 23 || minutes > 59) return null;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/**
 * An ISO 8601 date or date-time (the forms above), or null for anything else, including a
 * date or time that does not exist. Without an offset, the time is read as UTC, whatever
 * the server's zone.
 */
export function parseIsoTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const m = ISO.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const offsetMinutes = offsetMinutesOf(zone);
  if (offsetMinutes === null) return null;
  return utcFromFields({
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h ?? 0),
    minute: Number(mi ?? 0),
    second: Number(s ?? 0),
    ms: frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0,
    offsetMinutes,
  });
}
