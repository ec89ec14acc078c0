/**
 * Scenario arguments: positional sizes (`npm run bench -- streams 300`) with the sizes as
 * defaults, and `--name=value` options.
 */

/** The positional argument at `index` (options skipped) as a positive integer, or `fallback`. */
export function sizeArg(args: readonly string[], index: number, fallback: number): number {
  const raw = args.filter((a) => !a.startsWith('--'))[index];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`size argument ${index + 1} must be a positive integer, got "${raw}"`);
  return n;
}

/** `--name=value` (or `--name` alone: "true"), else `fallback`. */
export function option(args: readonly string[], name: string, fallback: string): string {
  for (const a of args) {
    if (a === `--${name}`) return 'true';
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return fallback;
}

/** The command that reproduces a run, for the result. */
export const commandLine = (scenario: string, args: readonly string[]) => ['npm run bench --', scenario, ...args].join(' ');
