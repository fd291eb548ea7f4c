import type { TargetName } from './spec.js';

/** One thing `regway config verify` found in a node's files. */
export interface Finding {
  target: TargetName;
  level: 'info' | 'warn' | 'error';
  file: string;
  message: string;
}
