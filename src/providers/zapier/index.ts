import type { ProviderModule } from '../provider';

/**
 * Zapier (seed 003): no API of its own here. The integration's config is a Zap's "Catch Hook"
 * URL and the events it wants; creating the integration creates a webhook subscription to that
 * URL (definition.outboundWebhook), so Zapier receives our signed events like any subscriber.
 */
export const zapier: ProviderModule = {
  definition: {
    name: 'zapier',
    displayName: 'Zapier',
    category: 'Automation',
    icon: 'zapier',
    description: 'Zapier: our events (user created, updated, deleted, sync finished...) sent to a Zap’s webhook trigger.',
    apiVersion: 'webhooks',
    authModes: ['api_key'],
    rateLimit: null,
    routingKeyField: null,
    webhooks: false,
    pulls: false,
    outboundWebhook: { urlField: 'webhookUrl', eventsField: 'events' },
    configSchema: {
      type: 'object',
      required: ['webhookUrl'],
      additionalProperties: false,
      properties: {
        webhookUrl: {
          type: 'string',
          title: 'Zapier webhook URL',
          description: 'The “Catch Hook” URL of the Zap’s Webhooks by Zapier trigger (https://hooks.zapier.com/hooks/catch/…)',
          format: 'uri',
          maxLength: 2000,
        },
        events: {
          type: 'array',
          title: 'Events',
          description: 'Which events the Zap receives',
          items: { type: 'string', pattern: '^[a-z_]+\\.[a-z_]+$' },
          minItems: 1,
          uniqueItems: true,
          default: ['user.created', 'user.updated', 'user.deleted'],
        },
        subscriptionId: {
          type: 'integer',
          title: 'Webhook subscription',
          description: 'Set by the service: the subscription that sends to the Zap (see /api/webhook-subscriptions)',
          minimum: 1,
          // Forms show it and never send it; the integrations service refuses a value a caller
          // sends that differs from the stored one (Ajv only annotates readOnly).
          readOnly: true,
        },
      },
    },
    setupInstructions: [
      '## Connect Zapier',
      '1. In Zapier, start a Zap with the **Webhooks by Zapier → Catch Hook** trigger and copy its URL.',
      '2. Create the integration with `{ "webhookUrl": "<that URL>", "events": ["user.created", "user.updated"] }`. A webhook subscription to the URL is created with it; the answer shows its signing secret once (`revealedOnce.webhookSecret`).',
      '3. Our events reach the Zap signed (Standard Webhooks headers), retried on failure, and listed under `/api/webhook-subscriptions/<subscriptionId>/deliveries`. Deleting the integration deletes the subscription.',
    ].join('\n'),
  },
  createConnector: () => ({
    provider: 'zapier',
    streams: [],
    identityProviders: [],
    // A test call would start the Zap: the connection test only says what is configured
    // (the URL passed the SSRF guard when the subscription was created).
    testConnection: async () => ({ account: null, user: null, details: { sendsTo: 'webhook subscription' } }),
    listPeople: () => Promise.reject(new Error('zapier holds no people to pull')),
    listDeletedSince: async () => [],
    stillExisting: async (people) => people,
  }),
};
