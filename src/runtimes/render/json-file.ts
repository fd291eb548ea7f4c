// JSON helpers for the client files (daemon.json, config.json, auth.json): tolerant reading the way the runtimes
// read, and writing that only changes bytes when the content changes, so formatting someone chose is kept.
import { isDeepStrictEqual } from 'node:util';
import { RenderError } from './types.js';

export type JsonObject = Record<string, unknown>;

/** Parses a JSON object file. Empty or whitespace-only text and a BOM are accepted, as dockerd does. */
export function readJsonObject(text: string | undefined, path: string, hint: string): JsonObject {
  if (text === undefined) return {};
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new RenderError(`${path} is not valid JSON (${(e as Error).message}); ${hint}. Fix it by hand or move it away, then run the command again.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RenderError(`${path} must hold a JSON object; ${hint}.`);
  return v as JsonObject;
}

/**
 * New text for `next`: the original bytes when nothing changed semantically (keeps the operator's formatting),
 * else a stable serialisation so a second apply is byte-identical.
 */
export function writeJson(original: string | undefined, before: JsonObject, next: JsonObject, indent: string): string {
  if (original !== undefined && original.trim() && isDeepStrictEqual(before, next)) return original;
  return JSON.stringify(next, null, indent) + '\n';
}

export function asObject(v: unknown): JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as JsonObject) } : {};
}
