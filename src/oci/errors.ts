/**
 * The one catalogue of error codes. Each entry is data: code, HTTP status, message. The gateway
 * renders them into the spec's `{"errors":[…]}` body in exactly one place (gateway/errors.ts);
 * the CLI maps the same codes to exit codes and a next step.
 */
export const ERROR_CATALOGUE = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  TAG_INVALID: { status: 400, message: 'manifest tag did not match URI' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  UNKNOWN: { status: 500, message: 'unknown error' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  /** regway's own: every upstream for the registry failed and nothing usable is cached. */
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'no upstream could serve the request and it is not cached' },
  /** regway's own: the gateway's storage has no room (disk or quota full); free space or raise storage.maxSize headroom. */
  STORAGE_FULL: { status: 507, message: "the gateway's storage is full" },
  /** regway's own: the gateway's storage failed (read-only, I/O error, object store refused). */
  STORAGE_ERROR: { status: 500, message: "the gateway's storage failed" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** A registry error with a stable code. `detail` is sent to clients, so never put secrets in it. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;
  /** Further errors reported in the same body (one MANIFEST_BLOB_UNKNOWN per missing digest). */
  readonly also: RegistryError[];

  constructor(code: ErrorCode, message?: string, detail?: unknown, opts: { status?: number; headers?: Record<string, string>; also?: RegistryError[] } = {}) {
    super(message ?? ERROR_CATALOGUE[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = opts.status ?? ERROR_CATALOGUE[code].status;
    this.detail = detail ?? {};
    this.headers = opts.headers ?? {};
    this.also = opts.also ?? [];
  }
}

export function isRegistryError(e: unknown, code?: ErrorCode): e is RegistryError {
  return e instanceof RegistryError && (code === undefined || e.code === code);
}

/** The spec's error body for one or more errors. */
export function errorBody(errors: RegistryError[]): string {
  return JSON.stringify({ errors: errors.map((e) => ({ code: e.code, message: e.message, detail: e.detail })) });
}
