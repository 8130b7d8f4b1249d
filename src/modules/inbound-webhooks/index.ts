// What other modules and the jobs use of inbound webhooks (the routes and workers are wired in app.ts).
export { WebhookChannelService, type ChannelPassResult } from './channels.service';
export { createWebhookChannelRepository, type WebhookChannelRepository } from './channels.repository';
