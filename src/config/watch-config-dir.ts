import { watch, type FSWatcher } from 'node:fs';

/**
 * Calls `onChange` when anything under `dir` changes. Editors save by rename or by truncate+write,
 * so every event counts; the caller debounces and compares content, so spurious events are cheap.
 */
export function watchConfigDir(dir: string, onChange: () => void): { close(): void } {
  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { recursive: true }, onChange);
  } catch {
    watcher = watch(dir, onChange); // platforms without recursive watch: top level only
  }
  watcher.on('error', () => onChange());
  return { close: () => watcher.close() };
}
