/**
 * S3 failures worded for the operator: which operation on which object failed, S3's own error
 * code, and what to check. The secret is never part of a message.
 */
export class S3StorageError extends Error {
  constructor(
    readonly op: string,
    readonly location: string,
    readonly code: string,
    readonly status: number | undefined,
    detail: string,
    readonly hint: string | undefined,
  ) {
    super(`S3 ${op} ${location} failed: ${code}${status ? ` (HTTP ${status})` : ''}${detail ? `: ${detail}` : ''}${hint ? `. ${hint}` : ''}`);
    this.name = 'S3StorageError';
  }
}

const HINTS: Record<string, string> = {
  SignatureDoesNotMatch: 'The secret access key does not belong to the access key id: check storage.s3.secretAccessKey (or AWS_SECRET_ACCESS_KEY)',
  InvalidAccessKeyId: 'This S3 endpoint does not know the access key id: check storage.s3.accessKeyId (or AWS_ACCESS_KEY_ID) and storage.s3.endpoint',
  AccessDenied: 'The credentials lack a permission regway needs on this bucket: s3:ListBucket, GetObject, PutObject, DeleteObject, AbortMultipartUpload, ListBucketMultipartUploads',
  Forbidden: 'Access denied (a HEAD response carries no error code): wrong credentials or a missing permission; a GET on the same key shows which',
  NoSuchBucket: 'The bucket does not exist: create it, fix storage.s3.bucket, or set storage.s3.createBucket: true',
  PermanentRedirect: 'The bucket lives in another region: set storage.s3.region to the bucket\'s region',
  AuthorizationHeaderMalformed: 'The region in the request does not match the bucket\'s: set storage.s3.region to the bucket\'s region',
  RequestTimeTooSkewed: 'This machine\'s clock is too far from the S3 server\'s: fix NTP',
  CredentialsProviderError: 'No credentials found: set storage.s3.accessKeyId/secretAccessKey, or provide AWS credentials (env, ~/.aws, web identity, instance role)',
  ECONNREFUSED: 'Nothing listens at the S3 endpoint: check storage.s3.endpoint',
  ENOTFOUND: 'The S3 endpoint host does not resolve: check storage.s3.endpoint',
};

interface SdkError { name?: string; Code?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } }

export function s3Status(e: unknown): number | undefined {
  return (e as SdkError | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (SignatureDoesNotMatch, NoSuchKey...) or the socket error code (ECONNREFUSED). */
export function s3Code(e: unknown): string {
  const err = e as SdkError;
  return err?.Code ?? (err?.name && err.name !== 'Error' ? err.name : undefined) ?? err?.code ?? 'Error';
}

/** Is this "no such object" (GET's NoSuchKey, HEAD's bare 404), as opposed to a missing bucket? */
export function isMissingObject(e: unknown): boolean {
  const code = s3Code(e);
  return code === 'NoSuchKey' || code === 'NotFound' || (s3Status(e) === 404 && code !== 'NoSuchBucket');
}

export function wrapS3Error(op: string, location: string, e: unknown): Error {
  if (e instanceof S3StorageError) return e;
  const code = s3Code(e);
  const status = s3Status(e);
  const msg = (e as SdkError)?.message ?? String(e);
  // SDK messages for HEAD errors are just the code again ("UnknownError", "NotFound"): drop those.
  const detail = msg === code || msg === 'UnknownError' ? '' : msg;
  const err = new S3StorageError(op, location, code, status, detail, HINTS[code]);
  (err as Error).cause = e;
  return err;
}
