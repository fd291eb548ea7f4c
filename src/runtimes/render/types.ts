// Shapes shared by the renderers. A renderer is pure: declarative spec + resolved credentials + the current text of
// the files it owns in, new text and warnings out. Paths are node paths (`/etc/docker/daemon.json`); --root is
// applied by the I/O edge.
import type { CredentialMap } from '../credentials.js';
import type { Spec, TargetName } from '../spec.js';

export interface RenderedFile {
  /** Absolute path on the node, before --root is applied. */
  path: string;
  /** New content; null removes the file (a hosts.toml regway wrote for a registry no longer in the spec). */
  text: string | null;
  /** Mode for a file that does not exist yet; an existing file keeps its own mode and owner. */
  mode: number;
  /** Holds credentials: diffs are redacted and new files/directories are private. */
  sensitive?: boolean;
}

export interface RenderResult {
  target: TargetName;
  files: RenderedFile[];
  warnings: string[];
}

export interface RenderInput {
  spec: Spec;
  credentials: CredentialMap;
}

/** The renderer cannot proceed without a human: the message says what to fix. */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}
