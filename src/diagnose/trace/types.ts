// Pure data of `regway trace`: per runtime, the endpoints a pull would try, in order, with the request each gets.

export type RuntimeName = 'docker' | 'containerd' | 'podman';

export interface Probe {
  status?: number;
  digest?: string;
  error?: string;
  url?: string;
  ms: number;
  /** What the endpoint's error body says about a refusal (a gateway names the upstream it could not reach). */
  said?: string;
  /** A regway gateway's pull-policy verdict on a served manifest (x-regway-policy), with what would make it pass. */
  policy?: string;
}

/** Where a blob's bytes come from on the endpoint that serves the manifest (one blob of the image, asked for its first byte). */
export interface BlobSource {
  digest: string;
  /** The endpoint's answer to the blob GET: 200/206 streams itself, 307/302 hands the bytes to another host. */
  status?: number;
  /** Host (scheme://host) the endpoint redirected to: an object store or a CDN. */
  redirectedTo?: string;
  /** That host's answer to the redirected GET (sent without credentials, as clients do). */
  targetStatus?: number;
  error?: string;
}

export interface TraceEndpoint {
  /** Base URL the runtime connects to (for containerd override_path, the full API root). */
  url: string;
  role: 'mirror' | 'origin';
  /** Path and query of the manifest request, as the runtime sends it: /v2/<name>/manifests/<ref>[?ns=...]. */
  request: string;
  /** Plain HTTP allowed and TLS verification off. */
  insecure: boolean;
  /** The runtime falls back to http:// on this same endpoint when https fails (containers/image with insecure). */
  httpFallback?: boolean;
  /** Why the runtime will not use this endpoint for this pull (blocked, capabilities, digest-only). */
  skipped?: string;
  /** The file (node path) that put it there. */
  source: string;
  probe?: Probe;
  /** On the endpoint that answered: where the image's blob bytes come from. */
  blob?: BlobSource;
}

export interface RuntimeTrace {
  runtime: RuntimeName;
  /** What the runtime does with its files that matters here (parse errors, ignored settings). */
  notes: string[];
  endpoints: TraceEndpoint[];
  /** Index in `endpoints` of the first one that serves the manifest, after probing. */
  answeredBy?: number;
}

export interface TraceReport {
  image: string;
  registry: string;
  name: string;
  reference: string;
  probed: boolean;
  runtimes: RuntimeTrace[];
}
