import type { Readable } from 'node:stream';
import type { Hash } from 'node:crypto';
import { RegistryError } from '../oci/errors.js';
import type { ObjectWriter } from '../store/driver.js';

export interface CopyLimits {
  /** Exact length announced (Content-Length, or the Content-Range span); a short or long body fails. */
  expected?: number;
  /** Largest accepted body; 0 = none. */
  max?: number;
  /** Longest silence while reading, so a client trickling nothing cannot hold a session forever. */
  idleMs?: number;
}

/**
 * Copies a request body into a storage writer, feeding the hashes on the way. Returns the byte
 * count. Any failure (client gone, idle, too long, short) throws and leaves the writer to the
 * caller, who aborts it: a partial body never becomes an object.
 */
export async function copyBody(body: Readable, writer: ObjectWriter, hashes: Hash[], limits: CopyLimits = {}): Promise<number> {
  let n = 0;
  let idle: NodeJS.Timeout | undefined;
  const arm = () => {
    if (!limits.idleMs) return;
    clearTimeout(idle);
    idle = setTimeout(() => body.destroy(new RegistryError('BLOB_UPLOAD_INVALID', `no body bytes for ${limits.idleMs} ms; upload chunk dropped`)), limits.idleMs);
  };
  // A body that is already finished (or was never there) has nothing to give.
  if (body.readableEnded) return 0;
  let ended = false;
  const onClose = () => { if (!ended) body.destroy(new RegistryError('BLOB_UPLOAD_INVALID', 'client went away mid-upload; chunk dropped')); };
  body.once('aborted', onClose);
  try {
    arm();
    for await (const chunk of body as AsyncIterable<Buffer>) {
      arm();
      n += chunk.length;
      if (limits.max && n > limits.max) {
        throw new RegistryError('SIZE_INVALID', `blob larger than the ${limits.max} byte limit`, {}, { status: 413 });
      }
      if (limits.expected !== undefined && n > limits.expected) throw new RegistryError('SIZE_INVALID', 'body longer than announced');
      for (const h of hashes) h.update(chunk);
      await writer.write(chunk);
    }
    ended = true;
  } finally {
    clearTimeout(idle);
    body.off('aborted', onClose);
  }
  if (limits.expected !== undefined && n !== limits.expected) {
    throw new RegistryError('SIZE_INVALID', `body has ${n} bytes, ${limits.expected} were announced`);
  }
  return n;
}

/** Reads a small body fully, refusing more than `max` bytes with the given error. */
export async function readSmallBody(body: Readable, max: number, tooLarge: () => RegistryError): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > max) { body.destroy(); throw tooLarge(); }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Parses `Content-Range: <start>-<end>` (upload form, no `bytes ` prefix; tolerated if present). */
export function parseUploadRange(h: string | undefined): { start: number; end: number } | undefined {
  if (h === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(h.trim());
  if (!m) throw new RegistryError('RANGE_INVALID', 'Content-Range must look like <start>-<end>', {}, { status: 416 });
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', 'Content-Range end is before its start', {}, { status: 416 });
  return { start, end };
}
