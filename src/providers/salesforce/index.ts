import type { ProviderModule } from '../provider';
import { SalesforceConnector } from './salesforce.connector';
import { salesforceDefinition } from './salesforce.definition';
import { createSalesforceHttp, salesforceConfigOf } from './salesforce.http';
import { SalesforceWriter } from './salesforce.writer';

/** Salesforce REST: Contacts by SOQL, pushed by sObject Collections; a pasted access token or an OAuth one (refreshed on 401); poll only. */
export const salesforce: ProviderModule = {
  definition: salesforceDefinition,
  createConnector(raw, ctx) {
    const config = salesforceConfigOf(raw);
    // The connector is told the session changed (its open query cursors belonged to the old one).
    const http = createSalesforceHttp(config, raw, ctx, {
      renewed: () => connector.sessionRenewed(),
      observe: (headers) => connector.observe(headers),
    });
    const connector = new SalesforceConnector(http, config, ctx.pageSize, ctx.logger, ctx.integrationId);
    return connector;
  },
  createWriter(raw, ctx) {
    const config = salesforceConfigOf(raw);
    const http = createSalesforceHttp(config, raw, ctx, { renewed: () => undefined, observe: (headers) => writer.observe(headers) });
    const writer = new SalesforceWriter(http, config, ctx.logger, ctx.integrationId);
    return writer;
  },
};
