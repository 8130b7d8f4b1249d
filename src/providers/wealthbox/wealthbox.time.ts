/**
 * Wealthbox timestamps are not ISO 8601: "2015-05-24 10:00 AM -0400". They do not sort as
 * strings, so they are parsed here. ISO strings are accepted too. A time that does not exist
 * (month 13, 13 PM) is null, as is anything else.
 */
import { offsetMinutesOf, parseIsoTime, utcFromFields } from '../../lib/time';

const WEALTHBOX_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AP]M) ([+-])(\d{2}):?(\d{2})$/i;

export function parseWealthboxTime(value: unknown): Date | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const m = WEALTHBOX_TIME.exec(value.trim());
  if (!m) return parseIsoTime(value);
  const [, y, mo, d, h, mi, s, ampm, sign, oh, om] = m;
  // A 12-hour clock: 1 to 12 (12 AM is midnight).
  if (Number(h) < 1 || Number(h) > 12) return null;
  const offsetMinutes = offsetMinutesOf(`${sign}${oh}${om}`);
  if (offsetMinutes === null) return null;
  return utcFromFields({
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: (Number(h) % 12) + (ampm.toUpperCase() === 'PM' ? 12 : 0),
    minute: Number(mi),
    second: Number(s ?? 0),
    offsetMinutes,
  });
}

/** Formats a time the way Wealthbox writes them (used by the fake server). */
export function formatWealthboxTime(date: Date, offsetMinutes = -240): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const h24 = local.getUTCHours();
  const h12 = h24 % 12 === 0 ? 12 : h24 % 12;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())} ${pad(h12)}:${pad(local.getUTCMinutes())} ${h24 < 12 ? 'AM' : 'PM'} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}
