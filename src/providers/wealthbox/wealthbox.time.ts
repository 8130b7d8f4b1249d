/**
 * Wealthbox timestamps are not ISO 8601: "2015-05-24 10:00 AM -0400". They do not sort as
 * strings, so they are parsed here. ISO strings are accepted too.
 */
const WEALTHBOX_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AP]M) ([+-])(\d{2}):?(\d{2})$/i;

export function parseWealthboxTime(value: unknown): Date | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const m = WEALTHBOX_TIME.exec(value.trim());
  if (!m) {
    const iso = Date.parse(value);
    return Number.isNaN(iso) ? null : new Date(iso);
  }
  const [, y, mo, d, h, mi, s, ampm, sign, oh, om] = m;
  let hour = Number(h) % 12;
  if (ampm.toUpperCase() === 'PM') hour += 12;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), hour, Number(mi), Number(s ?? 0)) - offsetMinutes * 60_000;
  return new Date(utc);
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
