import type { ConfigInput } from './schema.js';

/**
 * The embedded defaults: what `npm start` serves with no config file. Well-known public registries
 * map to themselves (Docker Hub to its API host). Tests never depend on these; they configure
 * local upstreams.
 */
export const WELL_KNOWN_REGISTRIES: Record<string, string> = {
  'docker.io': 'https://registry-1.docker.io',
  'ghcr.io': 'https://ghcr.io',
  'quay.io': 'https://quay.io',
  'registry.k8s.io': 'https://registry.k8s.io',
  'gcr.io': 'https://gcr.io',
  'mcr.microsoft.com': 'https://mcr.microsoft.com',
  'public.ecr.aws': 'https://public.ecr.aws',
};

/** The public registries as registry entries, each its own origin. */
export function defaultRegistries(): NonNullable<ConfigInput['registries']> {
  return Object.fromEntries(Object.entries(WELL_KNOWN_REGISTRIES).map(([k, url]) => [k, { upstreams: [{ url, role: 'origin' as const }] }]));
}

/** What `regway serve` runs with when no config file is given (registries are decided in load.ts). */
export function defaultConfigInput(): ConfigInput {
  return { listen: '127.0.0.1:5000', storage: { path: './data' } };
}
