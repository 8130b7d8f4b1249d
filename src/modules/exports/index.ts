// Exports: an organization's users written as CSV to an integration's cloud storage (Google
// Drive, Dropbox), on request or on the integration's schedule (src/jobs/export.jobs.ts).
export { createExportRepository, type ExportRepository } from './exports.repository';
export { exportOperations, exportsRouter } from './exports.routes';
export { CSV_OPTIONS, EXPORT_COLUMNS, exportFileName, ExportService, type ExportOutcome, type ExportTrigger } from './exports.service';
