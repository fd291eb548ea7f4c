// How bad a result is, on one scale for every tool: the doctor's findings and inspect's image findings print and
// exit alike.
export type Severity = 'ok' | 'info' | 'warn' | 'error';
