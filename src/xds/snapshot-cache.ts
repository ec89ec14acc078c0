/**
 * Per-node snapshots of encoded resources with content-hash versions, and change notification.
 * The cache knows nothing of policies: it versions and encodes whatever resource objects it is given.
 */
import { ResourceEncoder } from './resource-encoder.ts';
import { EMPTY_SNAPSHOT, Snapshot, type ResourceSet, type SnapshotResource } from './snapshot.ts';
import { sortByPushOrder } from './type-urls.ts';

export type { ResourceSet } from './snapshot.ts';

/** Called after a node's snapshot changed, with the type URLs whose version changed (in push order). */
export type SnapshotListener = (nodeId: string, changedTypes: string[]) => void;

export interface SnapshotCacheOptions {
  /** Share one encoder between caches (tests, benchmarks); a private one is created otherwise. */
  encoder?: ResourceEncoder;
}

/** Per-node resource snapshots, encoded once, versioned by content. */
export class SnapshotCache {
  /** The encode-once store shared by every node's snapshot (its `encodes` counter is useful in tests). */
  readonly encoder: ResourceEncoder;
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #listeners = new Set<SnapshotListener>();

  constructor(opts: SnapshotCacheOptions = {}) {
    this.encoder = opts.encoder ?? new ResourceEncoder();
  }

  /**
   * Replace a node's resources; returns the type URLs whose version changed (in push order).
   * Versions are content hashes (per type: hash over sorted (name, resourceHash)), so they are stable
   * across restarts and identical content = identical version. A type missing from `resources` is
   * served as empty. Rejects duplicate names within a type and resources that cannot be encoded
   * faithfully; on error the node keeps its previous snapshot.
   */
  setSnapshot(nodeId: string, resources: ResourceSet): string[] {
    for (const [typeUrl, list] of resources) {
      const seen = new Set<string>();
      for (const { name } of list) {
        if (typeof name !== 'string' || name === '') throw new Error(`snapshot for node "${nodeId}": a ${typeUrl} resource has no name`);
        if (seen.has(name)) {
          throw new Error(`snapshot for node "${nodeId}": duplicate ${typeUrl} resource name "${name}" (Envoy rejects duplicate names in one response)`);
        }
        seen.add(name);
      }
    }

    // Acquire the new entries before releasing the old ones, so bytes shared by both are not re-encoded.
    const acquired: string[] = [];
    const types = new Map<string, Map<string, SnapshotResource>>();
    try {
      for (const [typeUrl, list] of resources) {
        const byName = new Map<string, SnapshotResource>();
        for (const { name, resource } of list) {
          const encoded = this.encoder.acquire(typeUrl, name, resource);
          acquired.push(encoded.hash);
          byName.set(name, encoded);
        }
        types.set(typeUrl, byName);
      }
    } catch (err) {
      for (const hash of acquired) this.encoder.release(hash);
      throw err;
    }

    const next = new Snapshot(types);
    const previous = this.#snapshots.get(nodeId);
    this.#snapshots.set(nodeId, next);
    if (previous) for (const hash of previous.hashes()) this.encoder.release(hash);

    const changed = changedTypes(previous ?? EMPTY_SNAPSHOT, next);
    this.#notify(nodeId, changed);
    return changed;
  }

  /** Forget a node's resources; its connected streams are then served empty sets (listeners notified). */
  removeSnapshot(nodeId: string): void {
    const previous = this.#snapshots.get(nodeId);
    if (!previous) return;
    this.#snapshots.delete(nodeId);
    for (const hash of previous.hashes()) this.encoder.release(hash);
    this.#notify(nodeId, changedTypes(previous, EMPTY_SNAPSHOT));
  }

  /** The node's current snapshot, or undefined if none was set. */
  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.#snapshots.get(nodeId);
  }

  /** Nodes that have a snapshot, sorted. */
  nodeIds(): string[] {
    return [...this.#snapshots.keys()].sort();
  }

  /** Subscribe to changes; returns the unsubscribe function. Listeners run synchronously inside setSnapshot. */
  onUpdate(listener: SnapshotListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(nodeId: string, changed: string[]): void {
    if (changed.length === 0) return;
    // Every listener runs even if one throws: the snapshot is already committed.
    const errors: unknown[] = [];
    for (const listener of [...this.#listeners]) {
      try {
        listener(nodeId, [...changed]);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} snapshot listeners failed for node "${nodeId}"`);
  }
}

function changedTypes(before: Snapshot, after: Snapshot): string[] {
  const all = new Set([...before.typeUrls(), ...after.typeUrls()]);
  return sortByPushOrder([...all].filter((t) => before.version(t) !== after.version(t)));
}
