// The doctor's closed catalogue of findings. Codes are stable: scripts, the Kubernetes controller and dashboards
// match on them, so a code is never renamed or reused; a new situation gets a new code. Each entry says what it
// means and what to do; checks only add the specifics (which host, which file, how many bytes).
import type { Finding, Severity } from './types.js';

export interface FindingSpec {
  severity: Severity;
  title: string;
  meaning: string;
  fix: string;
}

const CA_FIX =
  'Install the CA that signed the certificate: /etc/docker/certs.d/<host:port>/ca.crt (dockerd), ' +
  '/etc/containers/certs.d/<host:port>/ca.crt (podman, CRI-O), `ca = "/path/ca.crt"` in /etc/containerd/certs.d/<host>/hosts.toml ' +
  '(containerd), or the system store (cp ca.crt /usr/local/share/ca-certificates/ && update-ca-certificates); ' +
  '`regway doctor --ca-file ca.crt` checks it. `insecure` (insecure-registries, insecure = true, skip_verify) is for labs only: ' +
  'it lets anyone on the path impersonate the registry.';
const SLOW_FIX =
  'Put a pull-through mirror near the nodes (`regway serve`, then `regway config` to point every runtime at it), ' +
  'pre-pull with `regway warm`, and give downloads room: dockerd "max-concurrent-downloads" and "max-download-attempts" ' +
  'in daemon.json, kubelet --image-pull-progress-deadline / serializeImagePulls=false, containerd `dial_timeout` in hosts.toml.';
const LOGIN_FIX =
  'Log in again with the right account: `docker login <host>` (writes ~/.docker/config.json), ' +
  '`podman login <host>` (writes ${XDG_RUNTIME_DIR}/containers/auth.json), or fix the entry named above; ' +
  'for Kubernetes update the imagePullSecret (`regway config apply` with the kubernetes target).';

export const FINDINGS = {
  TARGET_INVALID: {
    severity: 'error',
    title: 'target is not a registry or image reference',
    meaning: 'The argument is neither host[:port] nor an image reference such as ghcr.io/org/app:1.2.',
    fix: 'Give a registry (registry.example.com:5000, https://host) or an image (host/name:tag).',
  },
  DNS_OK: { severity: 'ok', title: 'name resolves', meaning: 'The registry host name resolves to at least one address.', fix: '' },
  DNS_FAILED: {
    severity: 'error',
    title: 'name does not resolve',
    meaning: "The resolver has no address for the registry host (typo, split-horizon DNS, or no DNS in the node's network).",
    fix: 'Check the spelling; `getent hosts <host>` on the node; fix /etc/resolv.conf or the cluster DNS; add the name to /etc/hosts for a lab.',
  },
  TCP_OK: { severity: 'ok', title: 'TCP connect', meaning: 'A TCP connection to the registry port succeeds.', fix: '' },
  TCP_REFUSED: {
    severity: 'error',
    title: 'connection refused',
    meaning: 'Nothing listens on that address and port (service down, wrong port, or a firewall that rejects).',
    fix: 'Start the registry or fix the port (HTTPS is 443 unless the reference names a port); check `ss -ltnp` on the registry host and any firewall between.',
  },
  TCP_TIMEOUT: {
    severity: 'error',
    title: 'TCP connect timed out',
    meaning: 'SYNs get no answer: a firewall that drops, a wrong route, or a server whose accept queue is full.',
    fix: 'Check firewalls and security groups for the port; if the server is overloaded, scale it or put a mirror in front. ' + SLOW_FIX,
  },
  TCP_FAILED: {
    severity: 'error',
    title: 'TCP connect failed',
    meaning: 'The connection failed for another network reason (host or network unreachable, reset).',
    fix: 'Check routing and firewalls between this node and the registry (`ip route get <addr>`); use an HTTP proxy if the node has no direct route.',
  },
  TLS_OK: { severity: 'ok', title: 'TLS', meaning: 'The TLS handshake succeeds and the certificate is valid for the host.', fix: '' },
  TLS_SELF_SIGNED: {
    severity: 'error',
    title: 'self-signed certificate',
    meaning: 'The server presents a certificate that signs itself; no client trusts it ("x509: certificate signed by unknown authority").',
    fix: CA_FIX,
  },
  TLS_UNKNOWN_CA: {
    severity: 'error',
    title: 'certificate signed by an unknown CA',
    meaning: 'The chain ends at a CA this node does not trust, or the server does not send its intermediate certificates.',
    fix: 'If the server omits intermediates, configure it to send the full chain. Otherwise: ' + CA_FIX,
  },
  TLS_HOSTNAME_MISMATCH: {
    severity: 'error',
    title: 'certificate is for another name',
    meaning: 'The certificate\'s subjectAltName does not list the host clients use ("x509: certificate is valid for X, not Y").',
    fix: 'Reissue the certificate with the registry host (and IP, if clients use it) in subjectAltName, or use the name the certificate has.',
  },
  TLS_EXPIRED: {
    severity: 'error',
    title: 'certificate expired or not yet valid',
    meaning: 'The certificate is outside its validity period ("x509: certificate has expired or is not yet valid"); check the node clock too.',
    fix: 'Renew the certificate (certbot/cert-manager); if it looks valid, check the node clock (`timedatectl`).',
  },
  TLS_EXPIRING: {
    severity: 'warn',
    title: 'certificate expires soon',
    meaning: 'The certificate expires within 14 days; pulls will then fail with x509 errors.',
    fix: 'Renew it now and check that renewal is automated (certbot timer, cert-manager Certificate).',
  },
  TLS_NO_H2: {
    severity: 'info',
    title: 'no HTTP/2',
    meaning: 'The server did not agree to HTTP/2 (ALPN); clients use HTTP/1.1, one request per connection at a time.',
    fix: 'Optional: enable http2 on the TLS listener (nginx `listen 443 ssl http2;`).',
  },
  TLS_VERIFY_SKIPPED: { severity: 'warn', title: 'certificate not verified (insecure)', meaning: 'The certificate does not verify and was accepted only because insecure mode is on.', fix: CA_FIX },
  TLS_HANDSHAKE_FAILED: {
    severity: 'error',
    title: 'TLS handshake failed',
    meaning: 'The server accepted the connection but the TLS handshake failed (protocol or cipher mismatch, client certificate required, not TLS).',
    fix: "Compare `openssl s_client -connect host:port -servername host` with the server's TLS settings; a client certificate goes in hosts.toml `client` or /etc/docker/certs.d/<host>/client.cert/.key.",
  },
  SCHEME_HTTP_ONLY: {
    severity: 'error',
    title: 'registry speaks plain HTTP',
    meaning: 'The port answers plain HTTP; HTTPS clients fail with "http: server gave HTTP response to HTTPS client".',
    fix: 'Serve TLS, or for a lab declare it plain HTTP in regway config\'s file (`server: http://host:port` and `insecure: true` on the registry): `regway config apply` then writes containerd\'s hosts.toml (server and a [host."http://host:port"] table), registries.conf `insecure = true` and dockerd\'s "insecure-registries". `regway doctor --insecure` checks a lab that is plain HTTP on purpose.',
  },
  SCHEME_HTTPS_ONLY: {
    severity: 'error',
    title: 'registry speaks HTTPS only',
    meaning: 'The port expects TLS but was addressed with http:// ("Client sent an HTTP request to an HTTPS server").',
    fix: 'Use https:// for this host: remove it from insecure-registries / the http:// server or mirror URL in hosts.toml and daemon.json.',
  },
  PING_OK: { severity: 'ok', title: 'registry API answers', meaning: 'GET /v2/ answers like a registry.', fix: '' },
  PING_NOT_REGISTRY: {
    severity: 'error',
    title: 'not a registry API',
    meaning: 'GET /v2/ did not answer like a registry (404, an HTML page): a web server or a proxy route that does not forward /v2/.',
    fix: 'Point clients at the registry itself, or forward /v2/ (all methods, no buffering limits) in the proxy: nginx `location /v2/ { proxy_pass http://registry; }`.',
  },
  PING_SERVER_ERROR: {
    severity: 'error',
    title: 'registry answers with a server error',
    meaning: 'GET /v2/ answered 5xx: the registry is failing, or a proxy in front cannot reach it (502/503/504).',
    fix: 'Check the registry\'s logs and the proxy\'s upstream (nginx error.log "connect() failed"); a mirror keeps pulls working during such outages.',
  },
  PING_TIMEOUT: {
    severity: 'error',
    title: 'no HTTP answer',
    meaning: 'The connection opens but no HTTP response arrives in time (hung server, proxy waiting on a dead upstream).',
    fix: "Check the registry process and the proxy's upstream timeouts. " + SLOW_FIX,
  },
  AUTH_NONE: { severity: 'ok', title: 'no authentication required', meaning: 'GET /v2/ succeeds anonymously.', fix: '' },
  AUTH_BASIC: {
    severity: 'info',
    title: 'Basic authentication',
    meaning: 'The registry asks for user and password on every request (htpasswd); credentials travel with each request, so it must use TLS.',
    fix: '',
  },
  AUTH_BEARER: { severity: 'info', title: 'token authentication', meaning: 'The registry sends clients to a token service (realm) and accepts Bearer tokens.', fix: '' },
  AUTH_CHALLENGE_MISSING: {
    severity: 'error',
    title: '401 without a challenge',
    meaning: 'GET /v2/ answered 401 without WWW-Authenticate; clients cannot tell how to log in and fail.',
    fix: 'The proxy in front drops or replaces the header: pass WWW-Authenticate through (nginx: do not use `auth_basic` or `error_page 401` on /v2/).',
  },
  CRED_FOUND: { severity: 'info', title: 'credentials found', meaning: 'A login for this registry is stored in a client file; the doctor uses it like the client would.', fix: '' },
  CRED_NONE: { severity: 'info', title: 'no credentials', meaning: 'No stored login for this registry: clients pull anonymously.', fix: '' },
  CRED_HELPER: { severity: 'info', title: 'credentials from a helper', meaning: 'The Docker config names a credential helper for this registry and it returned a login.', fix: '' },
  CRED_HELPER_MISSING: {
    severity: 'error',
    title: 'credential helper not installed',
    meaning: 'The Docker config names docker-credential-<name>, which is not on PATH; the docker CLI fails ("executable file not found in $PATH").',
    fix: 'Install the helper, or remove "credsStore"/"credHelpers" from config.json (a config copied from a desktop often carries "credsStore": "desktop") and log in again.',
  },
  CRED_HELPER_FAILED: {
    severity: 'error',
    title: 'credential helper failed',
    meaning: 'docker-credential-<name> ran but failed or printed no JSON.',
    fix: 'Run `echo <host> | docker-credential-<name> get` to see its error (locked keychain, expired cloud session).',
  },
  CRED_SHADOWED: {
    severity: 'warn',
    title: 'stored login ignored',
    meaning: 'config.json has an "auths" entry for this registry, but "credsStore"/"credHelpers" send the docker CLI to a helper instead, so the entry is never used.',
    fix: 'Remove "credsStore" (or the credHelpers entry) from config.json, or log in again so the helper stores the login.',
  },
  CRED_MALFORMED: {
    severity: 'error',
    title: 'stored login is malformed',
    meaning: 'An "auth" value does not decode to user:password; docker rejects the whole file, podman skips the entry.',
    fix: 'Recreate it: `docker login` / `podman login`, or base64 of "user:password" in "auth".',
  },
  CRED_FILE_INVALID: {
    severity: 'error',
    title: 'credentials file is not valid JSON',
    meaning: 'The client cannot read the file at all; docker continues with an empty config and may overwrite it.',
    fix: 'Fix the JSON (`python3 -m json.tool FILE`) or move the file away and log in again.',
  },
  CRED_CONFLICT: {
    severity: 'warn',
    title: 'clients use different logins',
    meaning: "Docker's config.json and the containers auth.json hold different users for this registry: docker and podman pull as different accounts.",
    fix: 'Log in with the same account in both, or remove the stale entry; `regway config` writes both from one file.',
  },
  LOGIN_OK: { severity: 'ok', title: 'credentials accepted', meaning: 'The registry accepts the credentials.', fix: '' },
  LOGIN_REQUIRED: { severity: 'error', title: 'login required', meaning: 'The registry refuses anonymous access and no credentials were found.', fix: LOGIN_FIX },
  LOGIN_REJECTED: { severity: 'error', title: 'credentials rejected', meaning: 'The registry answered 401 to the stored credentials: wrong or expired password, or a revoked token.', fix: LOGIN_FIX },
  TOKEN_OK: { severity: 'ok', title: 'token issued', meaning: 'The token service issued a pull token.', fix: '' },
  TOKEN_REJECTED: { severity: 'error', title: 'token service refused the credentials', meaning: 'The token service answered 401/403 to the credentials.', fix: LOGIN_FIX },
  TOKEN_FAILED: {
    severity: 'error',
    title: 'token service unusable',
    meaning: 'The token service (realm) is unreachable, answers an error, or returns no token.',
    fix: "Check that the realm URL resolves and is reachable from the node (it is often another host than the registry, through another proxy rule); check the token service's logs.",
  },
  MANIFEST_OK: { severity: 'ok', title: 'manifest', meaning: 'The image manifest is readable.', fix: '' },
  MANIFEST_STALE: {
    severity: 'warn',
    title: 'manifest served stale',
    meaning:
      'A gateway served the manifest from its cache because none of its upstreams answered (Warning: 299): cached images still pull, but a tag moved upstream is not seen and anything not cached fails.',
    fix: "Bring the gateway's upstream back (its last error is above and on the gateway's /-/ui page), or point the registry's upstreams in the gateway's config at one that works and run `regway reload`.",
  },
  MANIFEST_UNKNOWN: {
    severity: 'error',
    title: 'image not found',
    meaning: 'The registry has no such repository or tag (404).',
    fix: 'Check the name and tag (`regway inspect`, the registry UI, or GET /v2/<name>/tags/list); Docker Hub official images live under library/.',
  },
  MANIFEST_DENIED: {
    severity: 'error',
    title: 'no pull access',
    meaning: 'The registry refuses the manifest (401/403) to these credentials: the account has no pull permission on the repository, or the repository is private.',
    fix: 'Grant pull on the repository to the account, or log in with one that has it. ' + LOGIN_FIX,
  },
  POLICY_ALLOWED: {
    severity: 'ok',
    title: 'pull policy allows it',
    meaning: "The gateway's pull policy serves this image (docs/policy.md): signed by a trusted key, with a passing vulnerability report, allow-listed, or not required.",
    fix: '',
  },
  POLICY_WOULD_DENY: {
    severity: 'warn',
    title: 'pull policy would refuse it (audit mode)',
    meaning: "The gateway's pull policy is in audit mode: it serves this image, but logs and counts that it would refuse it. Under enforce it would be refused.",
    fix: 'See the reason: sign the image, attest a fresh passing vulnerability report, or add the digest to allowDigests before the policy turns to enforce.',
  },
  POLICY_DENIED: {
    severity: 'error',
    title: 'refused by the pull policy',
    meaning: "The gateway's pull policy refuses this image (403 DENIED): its detail names the policy and the reason (unsigned, unknown key, report missing, too old, vulnerabilities above the limit).",
    fix: "See the reason: sign the image with a trusted key, attest a fresh passing vulnerability report (cosign attest --type vuln), or add the digest to the policy's allowDigests. `regway policy check <image>` evaluates it again.",
  },
  MANIFEST_PLATFORM_MISSING: {
    severity: 'error',
    title: 'no image for this platform',
    meaning: 'The image index has no manifest for the requested platform ("no matching manifest for linux/arm64").',
    fix: 'Build and push that platform (docker buildx build --platform linux/amd64,linux/arm64 --push), or run on a node of a listed platform.',
  },
  MANIFEST_FAILED: {
    severity: 'error',
    title: 'manifest request failed',
    meaning: 'The manifest request failed with an unexpected status or a broken answer.',
    fix: 'Check the registry logs for that request; retry with --timeout if the connection dropped.',
  },
  MANIFEST_SKIPPED: {
    severity: 'info',
    title: 'no image given',
    meaning: 'The target is a registry, not an image: manifest and blob checks need an image reference.',
    fix: 'Run `regway doctor host/name:tag` to check a pull end to end.',
  },
  BLOB_OK: { severity: 'ok', title: 'blob download', meaning: 'A layer downloads at a usable speed.', fix: '' },
  BLOB_SLOW: { severity: 'warn', title: 'slow download', meaning: 'A layer downloads slowly; large images will take minutes and may hit client timeouts.', fix: SLOW_FIX },
  BLOB_TIMEOUT: {
    severity: 'error',
    title: 'download timed out',
    meaning: 'The layer sample did not finish within the timeout; at this rate clients give up (kubelet progress deadline, context deadline exceeded).',
    fix: SLOW_FIX,
  },
  BLOB_FAILED: {
    severity: 'error',
    title: 'blob download failed',
    meaning: 'A blob named by the manifest cannot be downloaded (404 BLOB_UNKNOWN: incomplete replication or garbage collection; or a redirect to storage that fails).',
    fix: 'Push the image again (docker push re-uploads missing blobs) or fix replication; if the blob redirects to object storage, check that the node can reach it.',
  },
  BLOB_REDIRECT_OK: {
    severity: 'ok',
    title: 'blob bytes come from storage or a CDN',
    meaning: "The registry answers blob GETs with a redirect (307) and the target (an object store's presigned URL or a CDN) serves the bytes to this node.",
    fix: '',
  },
  BLOB_REDIRECT_UNREACHABLE: {
    severity: 'error',
    title: 'blob redirect target unreachable',
    meaning:
      'The registry sends clients to another host for the blob bytes (307 to object storage or a CDN) and this node cannot reach that host: every pull fails at its first layer, although the registry itself answers.',
    fix: "Make the host reachable from the nodes (DNS, routes, firewall, the proxy clients use: NO_PROXY may skip it). A presigned URL is signed for the host name in the gateway's storage.s3.endpoint: clients must reach the store under that same name. If these nodes cannot reach it by design, keep them on the gateway: add their network to the registry's `redirect.exceptNetworks` (or narrow `redirect.clientNetworks`) and `regway reload`, or remove `redirect`.",
  },
  BLOB_REDIRECT_CLOCK_SKEW: {
    severity: 'error',
    title: 'clock skew breaks the redirect signature',
    meaning:
      "The redirect target refuses the URL (401/403) and its clock (its Date header) is far from this node's: a signed URL is valid for `redirect.expiry` from the gateway's clock, judged by the target's clock.",
    fix: 'Synchronise the clocks of the gateway hosts, the object store / CDN and the nodes (NTP: `timedatectl status`, `chronyc tracking`). A longer `redirect.expiry` tolerates a little skew, at the price of URLs that live longer.',
  },
  BLOB_REDIRECT_EXPIRED: {
    severity: 'error',
    title: 'redirect URL expired when used',
    meaning:
      'The redirect target refuses the URL (401/403) and it was outside its validity when this node used it, although this node and the target agree on the time: the gateway signs with a wrong clock, or the expiry is shorter than the time between redirect and download.',
    fix: "Check the clock of the gateway hosts (`timedatectl status`; the URL's signing time is in the detail) and raise the registry's `redirect.expiry` to minutes (5m is the default).",
  },
  BLOB_REDIRECT_DENIED: {
    severity: 'error',
    title: 'redirect target refuses the URL',
    meaning: 'The redirect target answers 401/403 although the URL is in time and the clocks agree: it does not accept the signature.',
    fix: "Presigned: clients must reach the store under the host name of storage.s3.endpoint (SigV4 signs the Host; a proxy in between must keep it), and the gateway's S3 keys need s3:GetObject. CDN: the CDN's key must equal `redirect.cdn.key`, with the same `signing` scheme, and the CDN must not rewrite the path before checking it (docs/redirects.md).",
  },
  BLOB_REDIRECT_FAILED: {
    severity: 'error',
    title: 'redirect target failed',
    meaning:
      "The redirect target answered with another error: 404 (the object was evicted from the bucket since the redirect, or the CDN's origin path is wrong), 5xx (the store or the CDN is failing).",
    fix: "A 404 once is an eviction race: pull again. Repeated: check the CDN's origin (bucket and path) against docs/redirects.md, and the store's and the CDN's logs for that key.",
  },
  UPLOAD_OK: { severity: 'ok', title: 'upload path accepts large bodies', meaning: 'An upload announcing a large body was accepted (the session was cancelled, nothing was stored).', fix: '' },
  UPLOAD_BODY_LIMIT: {
    severity: 'error',
    title: 'proxy rejects large uploads (413)',
    meaning: 'A proxy in front of the registry rejects request bodies above a size ("413 Request Entity Too Large"): pushes of bigger layers fail.',
    fix: 'Raise the body limit for /v2/: nginx `client_max_body_size 0;` (ingress-nginx annotation nginx.ingress.kubernetes.io/proxy-body-size: "0"), Traefik buffering maxRequestBodyBytes, HAProxy http-request deny on content-length rules; also disable request buffering (nginx `proxy_request_buffering off`).',
  },
  UPLOAD_SKIPPED: { severity: 'info', title: 'upload check skipped', meaning: 'Uploads could not be probed: no push permission, or the endpoint (a pull-through cache) takes no pushes.', fix: '' },
  CHECK_CRASHED: {
    severity: 'error',
    title: 'a check crashed',
    meaning: 'A doctor check threw an unexpected error: this is a bug in regway, not in the registry.',
    fix: 'Report it with the --json output; the other checks still ran.',
  },
} as const satisfies Record<string, FindingSpec>;

type FindingCode = keyof typeof FINDINGS;

/** Exported as a plain record for callers that look codes up dynamically. */
export const FINDINGS_TABLE: Record<string, FindingSpec> = FINDINGS;

/** Builds a finding from its catalogue entry; `detail` carries the specifics. */
export function finding(code: FindingCode, stage: string, detail: string, extra: { severity?: Severity; fix?: string; data?: Record<string, unknown>; durationMs?: number } = {}): Finding {
  const spec: FindingSpec = FINDINGS[code];
  const fix = extra.fix ?? spec.fix;
  return {
    code,
    severity: extra.severity ?? spec.severity,
    stage,
    title: spec.title,
    meaning: spec.meaning,
    detail,
    ...(fix ? { fix } : {}),
    ...(extra.durationMs !== undefined ? { durationMs: Math.round(extra.durationMs * 10) / 10 } : {}),
    ...(extra.data ? { data: extra.data } : {}),
  };
}
