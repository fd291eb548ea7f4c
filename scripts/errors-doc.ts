// Writes the table of docs/errors.md from the error catalogue (src/oci/errors.ts), so the page cannot drift from the
// codes the gateway sends: `node --import tsx scripts/errors-doc.ts`. test/docs-errors.test.ts fails when it is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CATALOGUE, type ErrorSpec } from '../src/oci/errors.js';

export const ERRORS_PAGE = fileURLToPath(new URL('../docs/errors.md', import.meta.url));
export const BEGIN = '<!-- the table below is generated from src/oci/errors.ts by scripts/errors-doc.ts -->';
export const END = '<!-- end of generated table -->';

/** Markdown would take `<name>` for an HTML tag and `|` for a column. */
const cell = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|');

export function errorTable(): string {
  const rows = Object.entries(ERROR_CATALOGUE as Record<string, ErrorSpec>).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.exit} | ${cell(e.description)} |`);
  return ['| code | HTTP | exit | when it happens, and what to do |', '|---|---|---|---|', ...rows].join('\n');
}

/** The page with its table replaced by the current one. */
export function withTable(page: string): string {
  const a = page.indexOf(BEGIN);
  const b = page.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${ERRORS_PAGE} lacks the markers around its table`);
  return `${page.slice(0, a + BEGIN.length)}\n${errorTable()}\n${page.slice(b)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(ERRORS_PAGE, withTable(readFileSync(ERRORS_PAGE, 'utf8')));
