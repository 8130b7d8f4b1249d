import axios, { type AxiosResponse } from 'axios';
import { FakeSalesforce } from './fake-salesforce';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
const PATH = '/services/data/v67.0/composite/sobjects';

function client(fake: FakeSalesforce) {
  const headers = { Authorization: `Bearer ${fake.token}`, 'Content-Type': 'application/json' };
  return {
    write: (method: 'POST' | 'PATCH', body: unknown): Promise<AxiosResponse<Json>> =>
      http.request({ method, url: fake.url + PATH, data: body, headers }),
    del: (ids: string[], allOrNone = false): Promise<AxiosResponse<Json>> =>
      http.delete(fake.url + PATH, { headers, params: { ids: ids.join(','), allOrNone: String(allOrNone) } }),
    query: async (q: string): Promise<Json[]> =>
      (await http.get(`${fake.url}/services/data/v67.0/query`, { headers, params: { q } })).data.records,
  };
}

const contact = (fields: Record<string, unknown>) => ({ attributes: { type: 'Contact' }, ...fields });

describe('FakeSalesforce: sObject Collections', () => {
  let fake: FakeSalesforce;
  beforeAll(async () => {
    fake = await new FakeSalesforce({ contacts: 2, seed: 3 }).start();
  });
  afterAll(() => fake.stop());

  it('when Accounts and Contacts are created, then a SaveResult each, in order, and SOQL finds them modified now', async () => {
    const c = client(fake);
    const account = await c.write('POST', { allOrNone: false, records: [{ attributes: { type: 'Account' }, Name: 'Ünïcode Ltd' }] });
    expect(account.status).toBe(200);
    expect(account.headers['sforce-limit-info']).toMatch(/^api-usage=\d+\/100000$/);
    const accountId = account.data[0].id as string;
    expect(account.data).toEqual([{ id: expect.stringMatching(/^001\w{15}$/), success: true, errors: [] }]);
    const before = Math.floor(Date.now() / 1000) * 1000;
    const res = await c.write('POST', {
      allOrNone: false,
      records: [
        contact({ LastName: 'Ōkubo', Email: 'okubo@example.com', AccountId: accountId, Department: 'R&D' }),
        contact({ FirstName: 'No', Email: 'nolast@example.com' }),
        contact({ LastName: 'Bad', Email: 'bad@' }),
        contact({ LastName: 'L'.repeat(81) }),
        contact({ id: '003000000000001AAA', LastName: 'WithId' }),
      ],
    });
    expect(res.status).toBe(200);
    expect(res.data).toEqual([
      { id: expect.stringMatching(/^003\w{15}$/), success: true, errors: [] },
      {
        success: false,
        errors: [{ statusCode: 'REQUIRED_FIELD_MISSING', message: 'Required fields are missing: [LastName]', fields: ['LastName'] }],
      },
      {
        success: false,
        errors: [{ statusCode: 'INVALID_EMAIL_ADDRESS', message: 'Email: invalid email address: bad@', fields: ['Email'] }],
      },
      { success: false, errors: [expect.objectContaining({ statusCode: 'STRING_TOO_LONG', fields: ['LastName'] })] },
      { success: false, errors: [{ statusCode: 'INVALID_FIELD', message: 'cannot specify Id in an insert call', fields: ['Id'] }] },
    ]);
    const rows = await c.query(
      `SELECT Id, LastName, Department, Account.Name, LastModifiedDate FROM Contact WHERE Email = 'okubo@example.com'`,
    );
    expect(rows).toEqual([
      expect.objectContaining({
        Id: res.data[0].id,
        LastName: 'Ōkubo',
        Department: 'R&D',
        Account: expect.objectContaining({ Name: 'Ünïcode Ltd' }),
      }),
    ]);
    expect(Date.parse(rows[0].LastModifiedDate.replace('+0000', 'Z'))).toBeGreaterThanOrEqual(before);
    expect(await c.query(`SELECT Id, Name FROM Account WHERE Name IN ('ünïcode ltd') ORDER BY CreatedDate, Id`)).toEqual([
      expect.objectContaining({ Id: accountId, Name: 'Ünïcode Ltd' }),
    ]);
    expect(fake.received.filter((r) => r.type === 'Contact')).toHaveLength(5);
  });

  it('when Contacts are updated, then null clears a field; deleted, unknown and malformed ids fail alone', async () => {
    const c = client(fake);
    const [live, deleted] = [...fake.contacts.values()];
    fake.updateContact(live.Id, { Phone: '555-0100' });
    fake.deleteContact(deleted.Id);
    const res = await c.write('PATCH', {
      allOrNone: false,
      records: [
        contact({ id: live.Id, Phone: null, Title: 'Boss' }),
        contact({ id: deleted.Id, LastName: 'Back' }),
        contact({ id: '003000000000000AAA', LastName: 'Nobody' }),
        contact({ id: 'nope', LastName: 'Malformed' }),
        contact({ id: live.Id.slice(0, 15), LastName: null }),
      ],
    });
    expect(res.data).toEqual([
      { id: live.Id, success: true, errors: [] },
      { success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] },
      { success: false, errors: [{ statusCode: 'INVALID_CROSS_REFERENCE_KEY', message: 'invalid cross reference id', fields: [] }] },
      { success: false, errors: [{ statusCode: 'MALFORMED_ID', message: 'Contact ID: id value of incorrect type: nope', fields: ['Id'] }] },
      { success: false, errors: [expect.objectContaining({ statusCode: 'REQUIRED_FIELD_MISSING' })] },
    ]);
    expect(fake.contact(live.Id)).toMatchObject({ Phone: null, Title: 'Boss' });
  });

  it('when allOrNone is true and a record fails, then nothing is written and the others say they were rolled back', async () => {
    const c = client(fake);
    const count = fake.contacts.size;
    const res = await c.write('POST', { allOrNone: true, records: [contact({ LastName: 'Fine' }), contact({ FirstName: 'No last' })] });
    expect(res.data.map((r: Json) => r.errors[0].statusCode)).toEqual(['ALL_OR_NONE_OPERATION_ROLLED_BACK', 'REQUIRED_FIELD_MISSING']);
    expect(fake.contacts.size).toBe(count);
  });

  it('when a call is malformed, then 400 with Salesforce’s error array: over 200 records, an unknown field or type', async () => {
    const c = client(fake);
    const many = await c.write('POST', { records: Array.from({ length: 201 }, (_, i) => contact({ LastName: `M${i}` })) });
    expect([many.status, many.data[0].errorCode]).toEqual([400, 'EXCEEDED_ID_LIMIT']);
    const field = await c.write('POST', { records: [contact({ LastName: 'X', Shoe_Size__c: '44' })] });
    expect([field.status, field.data]).toEqual([
      400,
      [{ message: "No such column 'Shoe_Size__c' on sobject of type Contact", errorCode: 'INVALID_FIELD' }],
    ]);
    fake.defineField('Shoe_Size__c');
    expect((await c.write('POST', { records: [contact({ LastName: 'X', Shoe_Size__c: '44' })] })).data[0].success).toBe(true);
    const type = await c.write('POST', { records: [{ attributes: { type: 'Opportunity' }, Name: 'Deal' }] });
    expect([type.status, type.data[0].errorCode]).toEqual([400, 'INVALID_TYPE']);
  });

  it('when Contacts are deleted, then a DeleteResult per id; a deleted one answers ENTITY_IS_DELETED; they enter the delete log', async () => {
    const c = client(fake);
    const [a] = fake.addContacts(1);
    const res = await c.del([a.Id, a.Id.slice(0, 15)]);
    expect(res.data).toEqual([
      { id: a.Id, success: true, errors: [] },
      { id: a.Id.slice(0, 15), success: false, errors: [{ statusCode: 'ENTITY_IS_DELETED', message: 'entity is deleted', fields: [] }] },
    ]);
    expect(fake.deletedLog.map((d) => d.id)).toContain(a.Id);
    expect(fake.received.filter((r) => r.method === 'DELETE').map((r) => r.id)).toEqual([a.Id, a.Id.slice(0, 15)]);
    const tooMany = await c.del(Array.from({ length: 201 }, () => a.Id));
    expect([tooMany.status, tooMany.data[0].errorCode]).toEqual([400, 'EXCEEDED_ID_LIMIT']);
  });
});
