import { parseIsoTime } from '../../src/lib/time';
import { parseWealthboxTime } from '../../src/providers/wealthbox/wealthbox.time';
import { parseGhlTime } from '../../src/providers/gohighlevel/gohighlevel.mapping';
import { parseHubSpotTime } from '../../src/providers/hubspot/hubspot.mapping';
import { parseSalesforceTime } from '../../src/providers/salesforce/salesforce.mapping';
import { parseZohoTime } from '../../src/providers/zoho/zoho.mapping';

const iso = (d: Date | null) => d?.toISOString() ?? null;

describe('parseIsoTime', () => {
  it('reads the ISO 8601 forms CRMs write, with every kind of offset', () => {
    expect(iso(parseIsoTime('2025-01-28T14:35:00.000Z'))).toBe('2025-01-28T14:35:00.000Z');
    expect(iso(parseIsoTime('2024-01-31T10:00:00.000+0000'))).toBe('2024-01-31T10:00:00.000Z');
    expect(iso(parseIsoTime('2019-07-25T15:26:49+05:30'))).toBe('2019-07-25T09:56:49.000Z');
    expect(iso(parseIsoTime('2019-07-25T15:26-04'))).toBe('2019-07-25T19:26:00.000Z');
    expect(iso(parseIsoTime('2025-01-01T10:00:00.123456789+05:30'))).toBe('2025-01-01T04:30:00.123Z');
    expect(iso(parseIsoTime('2024-02-29'))).toBe('2024-02-29T00:00:00.000Z');
    expect(iso(parseIsoTime(' 2025-01-01 10:00 '))).toBe('2025-01-01T10:00:00.000Z');
  });

  it('refuses what Date.parse would read as something else: other text, days that do not exist, 24:00', () => {
    // Date.parse: "1" is 2001-01-01, "March 7" is 2001-03-07, 2025-02-31 is March 3, 24:00 is the next day.
    for (const v of ['1', 'March 7', '2025-02-31T00:00:00Z', '2023-02-29', '2025-13-01T00:00:00Z', '2025-01-01T24:00:00Z']) {
      expect([v, parseIsoTime(v)]).toEqual([v, null]);
    }
    for (const v of ['2025-01-01T23:60:00Z', '2025-01-01T10:00:00+24:00', '2025-1-1', '', null, 20250101, '2025-01-01T10:00:00Zjunk']) {
      expect([v, parseIsoTime(v)]).toEqual([v, null]);
    }
  });

  it('keeps years 0 to 99 as themselves, and reads a time without an offset as UTC whatever the server zone', () => {
    expect(parseIsoTime('0099-01-01T00:00:00Z')?.getUTCFullYear()).toBe(99);
    expect(parseIsoTime('0000-06-01T00:00:00Z')?.getUTCFullYear()).toBe(0);
    expect(iso(parseIsoTime('2025-06-01T12:00:00'))).toBe('2025-06-01T12:00:00.000Z');
  });
});

describe('the providers read times through it', () => {
  it('Wealthbox: its own format keeps years under 100 and refuses a time that does not exist', () => {
    expect(parseWealthboxTime('0099-05-24 10:00 AM -0400')?.getUTCFullYear()).toBe(99);
    expect(iso(parseWealthboxTime('2015-05-24 12:00 AM +0000'))).toBe('2015-05-24T00:00:00.000Z');
    for (const v of ['2015-02-30 10:00 AM -0400', '2015-05-24 13:00 PM -0400', '2015-05-24 00:30 AM -0400', '2015-05-24 10:61 AM -0400', '1']) {
      expect([v, parseWealthboxTime(v)]).toEqual([v, null]);
    }
  });

  it('HighLevel, HubSpot, Salesforce and Zoho: garbage and impossible dates are no time', () => {
    expect(parseGhlTime('1')).toBeNull();
    expect(parseGhlTime('2025-02-31T00:00:00.000Z')).toBeNull();
    expect(iso(parseGhlTime('2025-01-28T14:35:00.000Z'))).toBe('2025-01-28T14:35:00.000Z');
    expect(parseHubSpotTime('2025-02-31T00:00:00Z')).toBeNull();
    expect(iso(parseHubSpotTime('1579514400000'))).toBe('2020-01-20T10:00:00.000Z');
    expect(parseSalesforceTime('2024-02-30T10:00:00.000+0000')).toBeNull();
    expect(iso(parseSalesforceTime('2024-01-31T10:00:00.000+0000'))).toBe('2024-01-31T10:00:00.000Z');
    expect(parseZohoTime('2019-02-29T15:26:49+05:30')).toBeNull();
    expect(iso(parseZohoTime('2019-07-25T15:26:49+05:30'))).toBe('2019-07-25T09:56:49.000Z');
  });
});
