/**
 * The config dir as a model, but only once it holds still: it is read, read again `quietMs` later,
 * and parsed only when both reads agree byte for byte. A file being written in several steps, or
 * a multi-file change made file by file, is therefore never applied half-done as long as no step
 * pauses longer than `quietMs`. File-watch events alone cannot promise this: they can be lost or
 * coalesced, and the debouncer fires after at most a second even while writes go on.
 *
 * What no reader can tell apart: a writer that stops mid-file for longer than `quietMs` at a point
 * where the YAML is still valid (between two documents, between two list items). Write config
 * files atomically (write a dotfile, then rename it over the old name; or swap a symlinked
 * directory, as Kubernetes ConfigMap mounts do) — see the README.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseModelFiles, readModelDir, type ModelResult } from '../model/load-model.ts';
import { sameFileContent } from '../model/parse-documents.ts';

export type LoadedConfig = ModelResult & { files: { file: string; text: string }[] };
/** One read of the directory, not yet parsed. */
export type DirRead = Awaited<ReturnType<typeof readModelDir>>;
/** A read taken when a change was first seen, and when it completed (Date.now() ms). */
export interface EarlierRead {
  read: DirRead;
  at: number;
}

export interface LoadStableOptions {
  quietMs: number;
  /** Checked between reads: a control plane shutting down stops waiting (the result is then undefined). */
  stopped?: () => boolean;
  /** Told when a read differed from the one before (the directory is being written). */
  onUnsettled?: (rounds: number) => void;
  /**
   * A read made when the change was first seen (the file watch's first event of a burst): it is the
   * first of the two reads, and only what is left of `quietMs` since it is waited before the
   * second, so a debounced change is applied up to one quiet period sooner, with the same guarantee.
   */
  earlier?: EarlierRead;
  /** Parses the settled files; default parseModelFiles (a ModelParser reuses what did not change). */
  parse?: (files: { file: string; text: string }[]) => ModelResult;
}

/** Reads `dir` until two reads `quietMs` apart agree, then parses that content. */
export async function loadStableConfig(dir: string, opts: LoadStableOptions): Promise<LoadedConfig | undefined> {
  let read = opts.earlier?.read ?? (await readModelDir(dir));
  // Two reads at least quietMs apart: after an earlier read, only what is left of that wait.
  let wait = opts.earlier ? Math.max(0, opts.earlier.at + opts.quietMs - Date.now()) : opts.quietMs;
  for (let rounds = 1; ; rounds++, wait = opts.quietMs) {
    await sleep(wait);
    if (opts.stopped?.()) return undefined;
    const again = await readModelDir(dir);
    if (sameRead(again, read)) {
      return again.violations.length > 0 ? again : { ...(opts.parse ?? parseModelFiles)(again.files), files: again.files };
    }
    opts.onUnsettled?.(rounds);
    read = again;
  }
}

/** Byte for byte the same files (names and texts) and the same problems. */
function sameRead(a: DirRead, b: DirRead): boolean {
  return (
    a.files.length === b.files.length &&
    a.violations.length === b.violations.length &&
    a.files.every((f, i) => f.file === b.files[i]!.file && sameFileContent(f, b.files[i]!)) &&
    a.violations.every((v, i) => v.file === b.violations[i]!.file && v.message === b.violations[i]!.message)
  );
}
