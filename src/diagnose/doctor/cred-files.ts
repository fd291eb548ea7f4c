// Where Docker and containers/image clients find a registry's login, as pure functions over the files' text.
// Docker (docker/cli configfile): credHelpers[host], then credsStore, then auths (exact key, then keys reduced to
// their host). containers-auth.json(5): auths keyed host or host/namespace, most specific first.

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}
interface AuthDoc {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
function isHub(h: string): boolean {
  return h === 'docker.io' || h === 'index.docker.io' || h === 'registry-1.docker.io';
}

/** Keys a registry may be filed under; Docker Hub's canonical one is https://index.docker.io/v1/. */
function keysFor(registry: string): string[] {
  const h = registry.toLowerCase();
  return isHub(h) ? HUB_KEYS : [h];
}

/** docker/cli ConvertToHostname: strip the scheme and everything after the first '/'. */
function keyHost(key: string): string {
  return key
    .replace(/^https?:\/\//i, '')
    .split('/')[0]!
    .toLowerCase();
}

/** The server URL a credential helper is asked about. */
export function helperServer(registry: string): string {
  return keysFor(registry)[0]!;
}

export function parseAuthDoc(text: string): AuthDoc | undefined {
  try {
    const v = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as AuthDoc) : undefined;
  } catch {
    return undefined;
  }
}

type Decoded = { username: string; password: string } | 'malformed' | 'token' | undefined;

/** An entry's user and password; 'token' for identity-token entries, 'malformed' when `auth` has no ':'. */
export function decodeEntry(e: AuthEntry | undefined): Decoded {
  if (!e) return undefined;
  if (typeof e.auth === 'string' && e.auth) {
    const s = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = s.indexOf(':');
    return i < 0 ? 'malformed' : { username: s.slice(0, i), password: s.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  if (e.identitytoken) return 'token';
  return undefined;
}

/** Docker's lookup: exact key first, then any key whose host part matches. */
export function dockerKey(doc: AuthDoc, registry: string): string | undefined {
  const auths = doc.auths ?? {};
  const keys = keysFor(registry);
  for (const k of keys) if (k in auths) return k;
  return Object.keys(auths).find((k) => keys.includes(keyHost(k)));
}

/** containers/image: host/ns/repo, host/ns, host; Docker Hub aliases count as the same host. */
export function containersKey(doc: AuthDoc, registry: string, repository?: string): string | undefined {
  const auths = doc.auths ?? {};
  const hosts = keysFor(registry).map(keyHost);
  const parts = (repository ?? '').split('/').filter(Boolean);
  for (let n = parts.length; n >= 0; n--) {
    const suffix = parts.slice(0, n).join('/');
    for (const k of Object.keys(auths)) {
      const bare = k
        .replace(/^https?:\/\//i, '')
        .replace(/\/v[12]\/?$/, '')
        .replace(/\/+$/, '')
        .toLowerCase();
      const [h, ...rest] = bare.split('/');
      if (hosts.includes(h!) && rest.join('/') === suffix) return k;
    }
  }
  return undefined;
}

/** The helper Docker would run for this registry, and why. */
export function dockerHelper(doc: AuthDoc, registry: string): { helper: string; via: 'credHelpers' | 'credsStore' } | undefined {
  for (const k of keysFor(registry)) {
    const h = doc.credHelpers?.[k];
    if (h) return { helper: h, via: 'credHelpers' };
  }
  return doc.credsStore ? { helper: doc.credsStore, via: 'credsStore' } : undefined;
}

/** Keys whose `auth` does not decode: docker refuses the whole file because of any one of them. */
export function malformedKeys(doc: AuthDoc): string[] {
  return Object.entries(doc.auths ?? {})
    .filter(([, e]) => decodeEntry(e) === 'malformed')
    .map(([k]) => k);
}
