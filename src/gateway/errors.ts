import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, errorBody, isRegistryError } from '../oci/errors.js';

/**
 * The one place errors become HTTP responses: the spec's `{"errors":[…]}` body with the catalogue's
 * status. Anything not in the catalogue is a bug: logged with its stack, answered as UNKNOWN 500.
 */
export function toRegistryError(e: unknown): RegistryError {
  if (isRegistryError(e)) return e;
  const fe = e as { statusCode?: number; code?: string; message?: string };
  if (fe.statusCode === 413) return new RegistryError('SIZE_INVALID', 'request body too large', {}, { status: 413 });
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return new RegistryError('UNSUPPORTED', fe.message, {}, { status: fe.statusCode });
  return new RegistryError('UNKNOWN', 'internal error; see the gateway log');
}

export function renderError(e: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const err = toRegistryError(e);
  if (req.facts) req.facts.errorCode = err.code;
  if (err.code === 'UNKNOWN') req.log.error({ err: e }, 'unexpected error');
  else if (err.status >= 500) req.log.warn({ code: err.code, msg: err.message, detail: err.detail }, 'request failed');
  if (reply.sent || reply.raw.headersSent) { reply.raw.destroy(); return; }
  const body = errorBody([err, ...err.also]);
  reply.code(err.status).headers(err.headers).header('content-type', 'application/json; charset=utf-8');
  if (req.method === 'HEAD') { reply.header('content-length', Buffer.byteLength(body)).send(); return; }
  reply.send(body);
}
