// Where `warm` gets its images: arguments, a file with one reference a line, or Kubernetes manifests (every
// container, init container and ephemeral container image in Pods, workload templates and Lists). Pure.
import { parseAllDocuments } from 'yaml';

/** One reference a line; blank lines and `#` comments are skipped. */
export function parseImageLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

const CONTAINER_KEYS = ['containers', 'initContainers', 'ephemeralContainers'];

/** Every `image` of a container list anywhere in the YAML documents, first-seen order, without duplicates. */
export function imagesFromKubernetes(yamlText: string): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    if (!v || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (CONTAINER_KEYS.includes(k) && Array.isArray(child)) {
        for (const c of child) {
          const img = (c as { image?: unknown })?.image;
          if (typeof img === 'string' && img) out.add(img);
        }
      }
      walk(child);
    }
  };
  for (const d of parseAllDocuments(yamlText)) walk(d.toJS());
  return [...out];
}

/** True when the text looks like Kubernetes YAML rather than a list of references. */
export function looksLikeKubernetes(text: string): boolean {
  return /^\s*(apiVersion|kind)\s*:/m.test(text);
}
