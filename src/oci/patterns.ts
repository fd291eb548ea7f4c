/**
 * Repository globs, used for hosted namespaces and access rules. A pattern is matched against a
 * whole repository name as the client sends it (`local/team/app`):
 *   `*`  one path segment (or the rest of one: `app-*`), never a `/`;
 *   `**` any number of segments, including none when it stands alone as a segment (`local/**`
 *        matches `local` too, so a rule for a namespace also covers the namespace itself);
 *   `{user}` the authenticated user's name, so `users/{user}/**` gives everyone a private space.
 * Patterns compile to anchored regular expressions; user names are escaped before substitution,
 * so a user called `.*` cannot widen a rule.
 */
export interface RepoPattern {
  readonly source: string;
  matches(name: string, user?: string): boolean;
}

const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

function compile(source: string, user: string | undefined): RegExp | undefined {
  if (source.includes('{user}') && user === undefined) return undefined;
  const segments = source.split('/');
  let re = '';
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '**') {
      // "a/**" matches "a" and "a/x/y"; "**/b" matches "b" and "x/b".
      re += i === 0 ? (last ? '.*' : '(?:.*/)?') : (last ? '(?:/.*)?' : '(?:/.*)?/');
      return;
    }
    const prev = segments[i - 1];
    if (i > 0 && prev !== '**') re += '/';
    const parts = seg.split('{user}').map((p) => p.split('*').map(escape).join('[^/]*'));
    re += parts.join(escape(user ?? ''));
  });
  return new RegExp(`^${re}$`);
}

export function repoPattern(source: string): RepoPattern {
  const fixed = source.includes('{user}') ? undefined : compile(source, undefined);
  return {
    source,
    matches(name: string, user?: string): boolean {
      const re = fixed ?? compile(source, user);
      return re !== undefined && re.test(name);
    },
  };
}

/** Whether any of the patterns matches the name. */
export function matchesAny(patterns: readonly RepoPattern[], name: string, user?: string): boolean {
  return patterns.some((p) => p.matches(name, user));
}
