// Distinct, large-ish contents per file so a torn write could never look like either version.
export const oldText = (i: number): string => `old ${i}\n`.repeat(40000);
export const newText = (i: number): string => `NEW ${i} `.repeat(50000) + '\n';
