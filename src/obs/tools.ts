// regway's own tools (doctor, trace, bench, warm, inspect) announce themselves with a User-Agent
// `regway-<tool>/<version>`, built here and nowhere else. The gateway recognises the same prefix
// and keeps that traffic out of pulls, top lists, alerts and the SLO: a benchmark or a diagnosis
// during an outage is not a user's pull, and must neither fire alerts nor spend the error budget.
import { readFileSync } from 'node:fs';

/** The tools the gateway names in metrics; any other `regway-*` agent is counted as `other`. */
const TOOLS = ['doctor', 'trace', 'bench', 'warm', 'inspect'] as const;
export type ToolName = (typeof TOOLS)[number];

const PREFIX = 'regway-';

/** The package version (src/obs and dist/obs are both two levels below the package root). */
function packageVersion(): string {
  try {
    const doc = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof doc.version === 'string' ? doc.version : '0.0.0';
  } catch { return '0.0.0'; }
}

export const REGWAY_VERSION = packageVersion();

/** `regway-doctor/0.1.0`: the User-Agent every request of a tool carries. */
export function toolUserAgent(tool: ToolName): string {
  return `${PREFIX}${tool}/${REGWAY_VERSION}`;
}

/**
 * The tool a request came from, or undefined for anything else (clients, and the gateway itself,
 * whose upstream requests say `regway/<version>`). Bounded: unknown tool names become `other`.
 */
export function toolOf(userAgent: string | undefined): ToolName | 'other' | undefined {
  if (!userAgent || !userAgent.startsWith(PREFIX)) return undefined;
  const name = /^regway-([a-z]+)/.exec(userAgent)?.[1];
  return (TOOLS as readonly string[]).includes(name ?? '') ? (name as ToolName) : 'other';
}
