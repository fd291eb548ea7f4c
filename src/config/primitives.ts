import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/** "30s", "5m", "7d" or milliseconds, validated with a message that shows the accepted forms. */
export const duration = z.union([z.string(), z.number().nonnegative()]).transform((v, ctx) => {
  try { return parseDuration(v); } catch (e) { ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message }); return z.NEVER; }
});

/** "500MB", "20GiB" or bytes. */
export const size = z.union([z.string(), z.number().nonnegative()]).transform((v, ctx) => {
  try { return parseSize(v); } catch (e) { ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message }); return z.NEVER; }
});

/** A secret given inline or by reference ({env} or {file}), so config files never need to hold it. */
export const secret = z.union([
  z.string(),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof secret>;
