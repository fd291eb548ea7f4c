// Pure: the kubelet's image-pull error message -> a cause from a closed set.
//
// The kubelet passes the container runtime's error through almost verbatim: ErrImagePull carries
// `Failed to pull image "IMG": rpc error: code = X desc = failed to pull and unpack image "IMG":
// failed to resolve reference "IMG": <resolver error>` (containerd) or `... Error response from
// daemon: <dockerd error>` (dockershim/cri-dockerd). ImagePullBackOff carries `Back-off pulling
// image "IMG"`, which since Kubernetes 1.32 (kubernetes#127918) ends with `: ErrImagePull: <the last error>`.
// Rules are tried in order: the first match wins, so the more specific causes come first (a rate
// limit is also a 4xx, a TLS handshake timeout is a timeout, "no match for platform" ends in "not
// found"). Real message shapes for every rule are in classify.test.ts.

/** Why a pull failed, as far as the message tells. */
export type PullCause = 'policy' | 'name-invalid' | 'rate-limited' | 'platform-mismatch' | 'dns' | 'timeout' | 'tls' | 'connection-refused' | 'unauthorized' | 'manifest-unknown' | 'unknown';

interface CauseInfo {
  /** The Kubernetes Event reason the controller writes (CamelCase, like the kubelet's). */
  reason: string;
  title: string;
  /** The next step, with {image}, {registry}, {namespace}, {serviceAccount}, {secret}, {policy}, {why} placeholders. */
  fix: string;
}

/** The catalogue: one entry per cause, used for Events, metrics labels and docs. */
export const CAUSES: Readonly<Record<PullCause, CauseInfo>> = {
  policy: {
    reason: 'PullDeniedByPolicy',
    title: "regway's pull policy refuses the image",
    fix: 'pull policy {policy} refuses it: {why}. Sign the image / attest a fresh passing vulnerability report (cosign attest --type vuln) with a key the policy trusts, or add its digest to allowDigests; regway policy check {image} evaluates it again (docs/policy.md)',
  },
  'name-invalid': {
    reason: 'PullNameInvalid',
    title: 'the image reference is not valid',
    fix: 'correct the image field: [registry/]repository[:tag][@sha256:digest], lowercase repository, no scheme (https://) in it',
  },
  'rate-limited': {
    reason: 'PullRateLimited',
    title: 'the registry rate-limits pulls (429 toomanyrequests)',
    fix: 'pull through a caching gateway (regway) or authenticate pulls with an imagePullSecret for {registry}; wait for the limit window to reset',
  },
  'platform-mismatch': {
    reason: 'PullPlatformMismatch',
    title: "the image has no variant for the node's platform",
    fix: 'publish {image} for this platform (a multi-arch index) or schedule the Pod on matching nodes with a nodeSelector on kubernetes.io/arch',
  },
  dns: {
    reason: 'PullDNSError',
    title: 'the registry host name does not resolve from the node',
    fix: "check the registry host in the image name and the node's DNS (resolv.conf); a mirror in containerd hosts.toml avoids the lookup",
  },
  timeout: {
    reason: 'PullTimeout',
    title: 'the connection to the registry timed out',
    fix: 'check egress from the node to {registry} (firewall, proxy, NetworkPolicy); a nearby regway mirror cuts the distance',
  },
  tls: {
    reason: 'PullTLSError',
    title: 'TLS to the registry failed (certificate not trusted or not TLS)',
    fix: 'install the registry CA on every node (containerd: /etc/containerd/certs.d/{registry}/ca.crt in hosts.toml) or use a certificate from a trusted CA; for a plain-HTTP registry declare it in hosts.toml',
  },
  'connection-refused': {
    reason: 'PullConnectionRefused',
    title: 'the registry could not be reached: connection refused, reset or no route',
    fix: 'check that the registry at {registry} runs and listens on that port, that the image names the right host:port, and that no firewall or NetworkPolicy blocks the node',
  },
  unauthorized: {
    reason: 'PullUnauthorized',
    title: 'the registry refused the pull: credentials missing or wrong (or the repository does not exist)',
    fix: "create a pull secret and reference it: kubectl -n {namespace} create secret docker-registry {secret} --docker-server={registry} --docker-username=... --docker-password=...; then add it to the Pod's imagePullSecrets or to ServiceAccount {serviceAccount}",
  },
  'manifest-unknown': {
    reason: 'PullManifestUnknown',
    title: 'the registry has no such tag or digest',
    fix: 'check the tag of {image} (list tags: skopeo list-tags docker://REPO) and that the image was pushed to {registry}',
  },
  unknown: {
    reason: 'PullFailed',
    title: 'the pull failed for a reason regway does not recognise',
    fix: 'read the full message with kubectl describe pod; run regway doctor {image} from a node',
  },
};

type Rule = readonly [PullCause, RegExp];

// A regway pull policy's 403 DENIED: containerd quotes the body when it GETs a manifest
// (`403 Forbidden - Server message: denied: pull policy NAME refuses sha256:…: REASON`), dockerd and
// skopeo print `denied: pull policy …`. A refusal of a HEAD shows only "403 Forbidden" (no body).
const POLICY_REFUSAL = /denied: pull policy ([A-Za-z0-9_.-]{1,64}) refuses (sha256:[0-9a-f]{64}): ([^\n]*)/;

const RULES: readonly Rule[] = [
  ['policy', POLICY_REFUSAL],
  ['name-invalid', /invalid reference format|couldn't parse image (?:name|reference)|Failed to apply default image tag|repository name must be lowercase/i],
  ['rate-limited', /toomanyrequests|429 Too Many Requests|pull rate limit|rate limit exceeded/i],
  ['platform-mismatch', /no match for platform in manifest|no matching manifest for|image operating system "?[^ ]+"? cannot be used on this platform|does not match the specified platform/i],
  // A failed lookup, whatever the resolver then said (no such host, its own timeout or refusal).
  ['dns', /dial tcp: lookup \S+|no such host|server misbehaving|Temporary failure in name resolution/i],
  ['timeout', /i\/o timeout|deadline exceeded|DeadlineExceeded|connection timed out|Client\.Timeout exceeded|TLS handshake timeout|timeout awaiting response headers/i],
  ['tls', /x509:|tls: |certificate (?:signed by unknown authority|has expired|is not valid|is valid for)|server gave HTTP response to HTTPS client|first record does not look like a TLS handshake/i],
  ['connection-refused', /connection refused|connectex: No connection could be made|no route to host|network is unreachable|connection reset by peer/i],
  [
    'unauthorized',
    /401 Unauthorized|403 Forbidden|unauthorized|authentication required|pull access denied|insufficient_scope|authorization failed|no basic auth credentials|requested access to the resource is denied|failed to authorize/i,
  ],
  ['manifest-unknown', /manifest unknown|MANIFEST_UNKNOWN|NAME_UNKNOWN|manifest for \S+ not found|404 Not Found|: not found\b|not found: manifest/i],
];

/** Classifies a waiting reason plus the kubelet's message. InvalidImageName needs no message. */
export function classify(input: { reason?: string; message?: string }): PullCause {
  if (input.reason === 'InvalidImageName') return 'name-invalid';
  const msg = input.message ?? '';
  for (const [cause, re] of RULES) if (re.test(msg)) return cause;
  return 'unknown';
}

/** The policy and its reason when the message is a regway pull policy's refusal. */
export function policyRefusal(message: string | undefined): { policy: string; digest: string; why: string } | undefined {
  const m = POLICY_REFUSAL.exec(message ?? '');
  return m ? { policy: m[1]!, digest: m[2]!, why: m[3]!.replace(/[\s.]+$/, '') } : undefined;
}

/** Waiting reasons that mean "the image could not be pulled". */
export const PULL_FAILURE_REASONS: ReadonlySet<string> = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'RegistryUnavailable']);

/**
 * True when a message carries the runtime's error, not just the back-off notice: only such messages
 * say why. `Back-off pulling image "x"` alone does not; since Kubernetes 1.32 (kubernetes#127918) it ends with the error.
 */
export function hasCauseDetail(message: string | undefined): boolean {
  if (!message) return false;
  if (/^Back-off pulling image "[^"]*"\s*$/.test(message)) return false;
  return true;
}

/** The image named in a kubelet message (`Failed to pull image "X": ...`, `Back-off pulling image "X"`). */
export function imageFromMessage(message: string): string | undefined {
  const m = /(?:Failed to pull image|Back-off pulling image|Failed to apply default image tag|Pulling image) "([^"]+)"/.exec(message);
  return m?.[1];
}

/** Fills the placeholders of a catalogue fix. Unknown values stay readable ("<secret>"). */
export function renderFix(cause: PullCause, ctx: Partial<Record<'image' | 'registry' | 'namespace' | 'serviceAccount' | 'secret' | 'policy' | 'why', string>>): string {
  return CAUSES[cause].fix.replace(/\{(\w+)\}/g, (_, k: string) => (ctx as Record<string, string | undefined>)[k] ?? `<${k}>`);
}
