// The console in the browser (/console) and its tenant portal (links and sessions).
export { createPortalRepository, type PortalRepository } from './portal.repository';
export { PortalService } from './portal.service';
export {
  consolePageOperations,
  consoleRouter,
  consoleSessionOperations,
  consoleSessionsRouter,
  consoleSignedInOperations,
  consoleSignedInRouter,
  portalLinkOperations,
  portalLinksRouter,
} from './console.routes';
