import { readdirSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';

/** How often the set of watched directories is checked: gone, back, swapped, or new. */
const DIR_CHECK_MS = 1000;

/**
 * Calls `onChange` when anything under `dir` changes. Editors save by rename or by truncate+write,
 * so every event counts; the caller debounces and compares content, so spurious events are cheap.
 *
 * Every directory is watched on its own (one inotify watch each), never with `recursive: true`:
 * Node 20's recursive watch on Linux watches each file's inode, so after one atomic save (rename
 * over the file) it never reports an in-place edit of that file again, and after a file turned
 * into a directory and back it reports nothing at all. A directory watch sees every entry change.
 * Watched: `dir`, its subdirectories (dot-dirs skipped, as the loader does), and the directory
 * holding the target of each symlinked YAML file (ConfigMap mounts). A watch follows an inode, so
 * the set is rebuilt after each event and every second: a directory deleted (rm -rf, a restore
 * from backup), recreated or swapped (mv) is watched anew, with an `onChange`. A missing `dir` is
 * not an error here: the caller's read reports it.
 */
export function watchConfigDir(dir: string, onChange: () => void, opts: { dirCheckMs?: number } = {}): { close(): void } {
  const watched = new Map<string, { ino: number; watcher: FSWatcher }>();
  let closed = false;

  /** Brings the watches in line with the directories there now; true when anything changed. */
  const sync = (): boolean => {
    const wanted = directoriesOf(dir);
    let changed = false;
    for (const [path, entry] of watched) {
      if (wanted.get(path) === entry.ino) continue;
      entry.watcher.close();
      watched.delete(path);
      changed = true;
    }
    for (const [path, ino] of wanted) {
      if (watched.has(path)) continue;
      try {
        const watcher = watch(path, onEvent);
        watcher.on('error', () => {
          // A broken watch is dropped; the next check sets it up again.
          watcher.close();
          if (watched.get(path)?.watcher === watcher) watched.delete(path);
          onChange();
        });
        watched.set(path, { ino, watcher });
        changed = true;
      } catch {
        // Gone between the scan and the watch: the next check retries.
      }
    }
    return changed;
  };

  let resyncQueued = false;
  function onEvent(): void {
    onChange();
    if (resyncQueued || closed) return;
    resyncQueued = true;
    setImmediate(() => {
      resyncQueued = false;
      if (!closed) sync(); // a new subdirectory is watched before its first file lands, mostly
    });
  }

  sync(); // synchronous: no edit made right after this call is missed
  const timer = setInterval(() => {
    if (sync()) onChange(); // gone, back, another inode or a new directory: its content is new
  }, opts.dirCheckMs ?? DIR_CHECK_MS);
  timer.unref();

  return {
    close: () => {
      closed = true;
      clearInterval(timer);
      for (const { watcher } of watched.values()) watcher.close();
      watched.clear();
    },
  };
}

/** path -> inode of every directory to watch (see above); empty when `root` is not a directory. */
function directoriesOf(root: string): Map<string, number> {
  const found = new Map<string, number>();
  const seen = new Set<number>();
  const add = (path: string): boolean => {
    const ino = inodeOf(path);
    if (ino === undefined || seen.has(ino)) return false; // missing, not a directory, or a loop
    seen.add(ino);
    found.set(path, ino);
    return true;
  };
  const walk = (path: string): void => {
    if (!add(path)) return;
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isSymbolicLink()) {
        if (inodeOf(child) !== undefined) walk(child);
        else if (/\.ya?ml$/i.test(entry.name)) {
          try {
            add(dirname(realpathSync(child))); // where the target is edited or swapped
          } catch {
            // dangling: the loader reports it
          }
        }
      }
    }
  };
  walk(root);
  return found;
}

function inodeOf(path: string): number | undefined {
  try {
    const s = statSync(path);
    return s.isDirectory() ? s.ino : undefined;
  } catch {
    return undefined;
  }
}
