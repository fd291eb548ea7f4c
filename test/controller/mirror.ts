// What a Reflector hands its handler, kept as a map and a log of calls: the watch tests compare both.
import type { Reflector } from '../../src/controller/watch.js';

export function mirror<T extends { metadata: { name?: string } }>(): { objs: Map<string, T>; log: string[]; h: ConstructorParameters<typeof Reflector<T & { metadata: object }>>[1] } {
  const objs = new Map<string, T>();
  const log: string[] = [];
  return {
    objs, log,
    h: {
      replace: (items) => { objs.clear(); for (const p of items) objs.set(p.metadata.name!, p); log.push(`replace:${items.length}`); },
      added: (p) => { objs.set(p.metadata.name!, p); log.push(`added:${p.metadata.name}`); },
      modified: (p) => { objs.set(p.metadata.name!, p); log.push(`modified:${p.metadata.name}`); },
      deleted: (p) => { objs.delete(p.metadata.name!); log.push(`deleted:${p.metadata.name}`); },
    },
  };
}
