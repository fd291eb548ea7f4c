// Helpers every diagnostic tool shares (the doctor, the image tools, trace and the CLI that prints them):
// network errors made readable, and sizes for people. Pure.

/** A network error's code, looking through undici's wrapping. */
function errorCode(e: unknown): string {
  const err = e as { code?: string; cause?: { code?: string } };
  return err?.cause?.code ?? err?.code ?? 'ERROR';
}

export function errorText(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string } };
  const code = errorCode(e);
  const msg = err?.cause?.message ?? err?.message ?? String(e);
  return msg.includes(code) ? msg : `${code}: ${msg}`;
}

export function isTimeout(e: unknown): boolean {
  return /TIMEOUT|ETIMEDOUT/.test(errorCode(e));
}

/** Human size: 1.5 MiB. */
export function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${u[i]}`;
}
