/**
 * The one wait-until helper of the tests (unit tests import it from here, test/ from
 * test/helpers/wait.ts). Tests wait for an observable condition, never for a fixed time: on a
 * busy 2-core machine any fixed sleep is sometimes too short.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';

export interface WaitOptions {
  /** First pause between checks; it doubles up to 100 ms. */
  interval?: number;
  /** What to report when the wait times out, instead of the condition's last answer. */
  seen?: () => unknown;
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Calls `cond` (sync or async) until it returns something truthy, and returns that. A throw counts
 * as "not yet". On timeout the error names `what` and what was last seen (the condition's last
 * answer or error, or `opts.seen()`), so a failed wait says where things stood.
 */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, ms = 10_000, opts: WaitOptions = {}): Promise<Truthy<T>> {
  const deadline = performance.now() + ms;
  let pause = opts.interval ?? 5;
  let last: unknown = 'nothing yet (the condition never ran)';
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as Truthy<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (performance.now() >= deadline) break;
    await sleep(Math.min(pause, Math.max(1, deadline - performance.now())));
    pause = Math.min(pause * 2, 100);
  }
  let seen: unknown = last;
  if (opts.seen) { try { seen = opts.seen(); } catch (e) { seen = e; } }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last seen: ${describe(seen)}`);
}

function describe(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (typeof v === 'string') return v.length > 2000 ? `${v.slice(0, 2000)}…` : v;
  return inspect(v, { depth: 4, breakLength: Infinity, maxStringLength: 500 });
}
