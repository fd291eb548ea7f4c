import type { Descriptor } from '../oci/manifest.js';

/**
 * The sizes manifests give their layers and configs, per registry: a blob's length is known from
 * the descriptor before any upstream is asked, so an upstream that announces another length (a
 * broken mirror) is caught before a client is told a wrong Content-Length. Bounded; oldest first out.
 */
export class DescriptorSizes {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly max = 200_000) {}

  record(registry: string, descriptors: readonly (Descriptor | undefined)[]): void {
    for (const d of descriptors) {
      if (!d || typeof d.digest !== 'string' || !Number.isSafeInteger(d.size) || d.size < 0) continue;
      const k = `${registry}\u0000${d.digest}`;
      this.sizes.delete(k);
      this.sizes.set(k, d.size);
      if (this.sizes.size > this.max) this.sizes.delete(this.sizes.keys().next().value!);
    }
  }

  get(registry: string, digest: string): number | undefined {
    return this.sizes.get(`${registry}\u0000${digest}`);
  }
}
