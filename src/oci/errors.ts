/** What one catalogue entry says. */
export interface ErrorSpec {
  /** HTTP status the gateway answers with (a few call sites use a more precise one, which the description names). */
  status: number;
  /** The specification's short message, sent to clients when the call site has nothing more precise. */
  message: string;
  /** When it happens and what a client or an operator should do; docs/errors.md lists every entry. */
  description: string;
  /** Exit status of a regway command that ends with this error: 4 when no upstream could serve, else 1. */
  exit: 1 | 4;
}

/**
 * The one catalogue of error codes, as data. The gateway renders them into the spec's `{"errors":[…]}` body in
 * exactly one place (gateway/errors.ts); the CLI takes its exit status from the same entry (cli/run.ts);
 * docs/errors.md is generated from it (scripts/errors-doc.ts) and test/docs-errors.test.ts keeps the two equal.
 */
export const ERROR_CATALOGUE = {
  BLOB_UNKNOWN: {
    status: 404, exit: 1, message: 'blob unknown to registry',
    description: 'A layer or config blob is not there: a hosted repository holds no such blob, the upstream answered 404, or the cache evicted it between two steps of one pull. Clients check that the digest comes from a manifest of this repository; a pull that met an eviction succeeds when retried.',
  },
  BLOB_UPLOAD_INVALID: {
    status: 400, exit: 1, message: 'blob upload invalid',
    description: 'A pushed chunk was cut short: no body bytes arrived within the idle time, or the client went away mid-upload. The chunk is dropped and the upload stays at its last offset; clients resume from the offset a GET on the upload reports (docker, podman and skopeo retry by themselves).',
  },
  BLOB_UPLOAD_UNKNOWN: {
    status: 404, exit: 1, message: 'blob upload unknown to registry',
    description: 'The upload session does not exist, belongs to another repository, or expired. Clients start a new upload with a POST to /v2/<name>/blobs/uploads/.',
  },
  DIGEST_INVALID: {
    status: 400, exit: 1, message: 'provided digest did not match uploaded content',
    description: 'A digest is malformed or of an unsupported algorithm, the uploaded bytes do not hash to the digest given, the final PUT of an upload has no ?digest=, or a manifest pushed by digest has another one. Nothing was stored; clients recompute the sha256 (or sha512) digest and push again.',
  },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400, exit: 1, message: 'manifest references a manifest or blob unknown to registry',
    description: 'A pushed manifest references blobs or child manifests this repository does not hold (one error per missing digest, in the same body). Clients push the layers, the config and the child manifests first, then the manifest.',
  },
  MANIFEST_INVALID: {
    status: 400, exit: 1, message: 'manifest invalid',
    description: 'A pushed manifest is not a JSON object, is not schemaVersion 2 (schema1 is refused), has a media type regway does not accept or one its Content-Type contradicts, or lacks a config descriptor; 413 when it is larger than the manifest limit. Clients fix the manifest, or push it with a current client.',
  },
  MANIFEST_UNKNOWN: {
    status: 404, exit: 1, message: 'manifest unknown',
    description: "No manifest for this tag or digest: it does not exist here or upstream (a miss upstream is remembered for cache.negativeTtl), the tag is not a valid tag name, or the manifest's media type is not in the request's Accept header. Clients check the reference and the Accept header; a tag pushed upstream a moment ago appears once negativeTtl has passed.",
  },
  NAME_INVALID: {
    status: 400, exit: 1, message: 'invalid repository name',
    description: 'The repository name breaks the naming rules (lowercase letters, digits, separators), contains an encoded slash (%2F), or the ns parameter is repeated or not a registry host. Clients fix the name or the mirror configuration that builds it.',
  },
  NAME_UNKNOWN: {
    status: 404, exit: 1, message: 'repository name not known to registry',
    description: 'The registry the name routes to is not configured on this gateway, the repository does not exist upstream or among the hosted ones, or the path is no registry API endpoint. Operators add the registry under registries: in the config; clients check the name and the path prefix of their mirror setting.',
  },
  SIZE_INVALID: {
    status: 400, exit: 1, message: 'provided length did not match content length',
    description: "A body is longer or shorter than its Content-Length or Content-Range announced; 413 when it is over a limit (hosted.maxBlobSize, the token request's 64 KiB, the gateway's body limit). Clients resend with the right length; operators raise hosted.maxBlobSize when such blobs are expected.",
  },
  TAG_INVALID: {
    status: 400, exit: 1, message: 'manifest tag did not match URI',
    description: 'A tag is not a valid tag name (up to 128 of letters, digits, _ . -, not starting with . or -). Clients fix the tag.',
  },
  UNAUTHORIZED: {
    status: 401, exit: 1, message: 'authentication required',
    description: 'Sign-in is needed: no credentials, wrong ones, or an expired token; WWW-Authenticate says where a token comes from. Clients log in to the gateway (docker login, podman login); `regway doctor <image> --via <gateway>` shows which credentials a client would send.',
  },
  DENIED: {
    status: 403, exit: 1, message: 'requested access to the resource is denied',
    description: "The caller is signed in but the access rules do not allow this action (pull, push, delete, catalog, observe), a token was asked for another service, an upstream refused the gateway's own credentials, or a pull policy refuses the manifest (detail: policy and reason: unsigned, unknown-key, wrong-digest; docs/policy.md). The message says which; operators fix the access rules, the registry's upstream credentials, or sign the image with a key the policy trusts.",
  },
  UNSUPPORTED: {
    status: 405, exit: 1, message: 'the operation is unsupported',
    description: 'The method is not offered here: a push or delete to a pull-through namespace, a method the registry API does not have, or (400) a token request with a grant_type other than password or refresh_token. The Allow header lists what works; clients push to the upstream registry or to a hosted repository.',
  },
  TOOMANYREQUESTS: {
    status: 429, exit: 1, message: 'too many requests',
    description: "A limit was reached: this client's or user's request rate (limits.*), failed sign-ins, open upload sessions (hosted.maxUploadSessions), or every upstream of the registry is rate-limiting the gateway. Clients wait for Retry-After; operators raise the limit, or give the registry upstream credentials or a second upstream.",
  },
  RANGE_INVALID: {
    status: 416, exit: 1, message: 'invalid content range',
    description: "A Range or Content-Range cannot be served: it lies beyond the blob, is malformed, starts a chunk somewhere other than the upload's offset, or another request is writing the same upload. Clients read the size or the upload's offset again and continue from there.",
  },
  PAGINATION_NUMBER_INVALID: {
    status: 400, exit: 1, message: 'invalid number of results requested',
    description: 'The n parameter of a tag or catalog list is not a non-negative integer. Clients fix the query.',
  },
  UNKNOWN: {
    status: 500, exit: 1, message: 'unknown error',
    description: 'A bug: an error the gateway did not expect. The answer says nothing more on purpose; the gateway logs it with its stack ("unexpected error"). Operators report that log line.',
  },
  UNAVAILABLE: {
    status: 503, exit: 1, message: 'service unavailable',
    description: "The specification's code for a registry that is down, for instance for maintenance. regway does not send it (an upstream that cannot serve becomes UPSTREAM_UNAVAILABLE); clients that meet it from another registry retry later.",
  },
  UPSTREAM_UNAVAILABLE: {
    status: 502, exit: 4, message: 'no upstream could serve the request and it is not cached',
    description: "regway's own: every upstream of the registry failed (refused, timed out, answered an error, skipped with its circuit open, or sent a blob without a valid length) and nothing usable is cached; the detail lists each attempt. Operators check the upstreams from the gateway's host (regway doctor <registry>) and their health on the status page; clients retry later.",
  },
  STORAGE_FULL: {
    status: 507, exit: 1, message: "the gateway's storage is full",
    description: "regway's own: the gateway's storage has no room (disk full, quota, or the object store's limit). Operators free space, or lower storage.maxSize so eviction keeps headroom.",
  },
  STORAGE_ERROR: {
    status: 500, exit: 1, message: "the gateway's storage failed",
    description: "regway's own: the gateway's storage failed (read-only filesystem, I/O error, permissions, or the object store refused). Operators check the storage path or bucket and the gateway log.",
  },
} as const satisfies Record<string, ErrorSpec>;

type ErrorCode = keyof typeof ERROR_CATALOGUE;

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
