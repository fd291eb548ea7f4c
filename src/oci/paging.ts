import { RegistryError } from './errors.js';

/** Validates the spec's `n` (a non-negative integer). */
export function validN(n: string): void {
  if (!/^\d+$/.test(n)) throw new RegistryError('PAGINATION_NUMBER_INVALID', 'n must be a non-negative integer', { n: n.slice(0, 20) });
}

/** Applies `n`/`last` pagination to a sorted list (spec "Listing Tags"); validates n. */
export function paginate(items: string[], n: string | undefined, last: string | undefined): { page: string[]; next?: string } {
  let list = last !== undefined ? items.filter((t) => t > last) : items;
  if (n === undefined) return { page: list };
  validN(n);
  const count = Number(n);
  if (count === 0) return { page: [] };
  const page = list.slice(0, count);
  list = list.slice(count);
  return list.length > 0 ? { page, next: page[page.length - 1] } : { page };
}
