// What a registry (or a regway gateway) said when it refused: the OCI error body
// (`{"errors":[{"code","message","detail"}]}`, https://github.com/opencontainers/distribution-spec/blob/main/spec.md#error-codes)
// turned into one sentence for a person. Clients print "502 Bad Gateway"; the body says why, and the
// doctor and trace must say it too. Pure.

export interface RegistryErrorBody {
  code: string;
  message: string;
  detail?: unknown;
}

/** The errors of an OCI error body; [] when the body is not one (an HTML page, empty, truncated). */
export function parseErrorBody(body: Buffer | string | undefined): RegistryErrorBody[] {
  if (!body || body.length === 0) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return [];
  }
  const errors = (doc as { errors?: unknown })?.errors;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is { code: unknown; message?: unknown; detail?: unknown } => typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string')
    .map((e) => ({ code: e.code as string, message: typeof e.message === 'string' ? e.message : '', ...(e.detail !== undefined ? { detail: e.detail } : {}) }));
}

interface Attempt {
  upstream: string;
  outcome: string;
}

function attemptsOf(detail: unknown): Attempt[] {
  const a = (detail as { attempts?: unknown })?.attempts;
  if (!Array.isArray(a)) return [];
  return a.filter((x): x is Attempt => typeof x?.upstream === 'string' && typeof x?.outcome === 'string');
}

const OUTCOMES: [RegExp, string][] = [
  [/ECONNREFUSED/, 'refused the connection'],
  [/ENOTFOUND|EAI_AGAIN/, 'does not resolve (DNS)'],
  [/ETIMEDOUT|TIMEOUT|timed? ?out/i, 'timed out'],
  [/ECONNRESET|socket hang up|other side closed|EPIPE/i, 'dropped the connection'],
  [/EHOSTUNREACH|ENETUNREACH/, 'is unreachable (no route)'],
  [/token request/, "refused the gateway's credentials"],
  [/certificate|CERT_|TLS|SSL/i, 'failed TLS'],
];

/** "refused the connection (connect ECONNREFUSED 127.0.0.1:1)" from an attempt's outcome. */
export function outcomeText(outcome: string): string {
  if (/circuit open/.test(outcome)) return 'was skipped: it failed repeatedly and is marked down for now (circuit open)';
  const http = /^HTTP (\d+)$/.exec(outcome);
  if (http) return `answered ${http[1]}`;
  const raw = outcome.replace(/^upstream \S+ (unreachable: )?/, '');
  const rule = OUTCOMES.find(([re]) => re.test(outcome));
  return rule ? `${rule[1]} (${raw})` : `failed: ${raw}`;
}

/**
 * One sentence for what the body says. regway's UPSTREAM_UNAVAILABLE names each upstream it tried:
 * "the gateway's upstream http://10.0.0.5:5000 for docker.io refused the connection (connect ECONNREFUSED …)".
 */
export function explainErrors(errors: readonly RegistryErrorBody[], registry: string): string | undefined {
  const first = errors[0];
  if (!first) return undefined;
  if (first.code === 'UPSTREAM_UNAVAILABLE') {
    const reg = typeof (first.detail as { registry?: unknown })?.registry === 'string' ? (first.detail as { registry: string }).registry : registry;
    const attempts = attemptsOf(first.detail);
    if (attempts.length) return attempts.map((a) => `the gateway's upstream ${a.upstream} for ${reg} ${outcomeText(a.outcome)}`).join('; then ');
    return `the gateway could not serve it from an upstream for ${reg}: ${first.message}`;
  }
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
  return `${first.code}: ${first.message || 'no message'}${more}`;
}

/** The upstream URLs a gateway's UPSTREAM_UNAVAILABLE names, for the fix text. */
export function failedUpstreams(errors: readonly RegistryErrorBody[]): string[] {
  return errors.flatMap((e) => attemptsOf(e.detail).map((a) => a.upstream));
}
