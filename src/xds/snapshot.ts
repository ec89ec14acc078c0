/**
 * An immutable, already-encoded set of resources for one node, per type URL, with content-hash
 * versions. Built by {@link SnapshotCache.setSnapshot}; read by the ADS streams.
 */
import { versionOf } from './content-hash.ts';
import type { EncodedAny } from './resource-encoder.ts';

/** The input of `SnapshotCache.setSnapshot`: per type URL, the named resource objects (protobufjs `fromObject` inputs). */
export type ResourceSet = ReadonlyMap<string /* typeUrl */, readonly { name: string; resource: object }[]>;

/** One resource of a snapshot: its content hash and its pre-encoded Any. */
export interface SnapshotResource {
  readonly hash: string;
  readonly any: EncodedAny;
}

/** All resources of one type for one node. `resources` iterates in name order. */
export interface TypeSnapshot {
  /** Content hash over the sorted (name, resource hash) pairs; identical content = identical version. */
  readonly version: string;
  readonly resources: ReadonlyMap<string, SnapshotResource>;
}

/** The version of an empty resource set (a type the snapshot does not mention, or a node without snapshot). */
export const EMPTY_VERSION = versionOf([]);

const EMPTY_TYPE: TypeSnapshot = { version: EMPTY_VERSION, resources: new Map() };

/** A node's resources, per type URL. A type that is absent is the same as a type with no resources. */
export class Snapshot {
  readonly #types: ReadonlyMap<string, TypeSnapshot>;

  /** `types` maps type URL -> resources; each type's resources are re-ordered by name and versioned here. */
  constructor(types: ReadonlyMap<string, ReadonlyMap<string, SnapshotResource>>) {
    const built = new Map<string, TypeSnapshot>();
    for (const [typeUrl, resources] of types) {
      const sorted = new Map([...resources].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      built.set(typeUrl, { version: versionOf([...sorted].map(([name, r]) => [name, r.hash] as const)), resources: sorted });
    }
    this.#types = built;
  }

  /** The type URLs this snapshot holds (possibly with zero resources). */
  typeUrls(): string[] {
    return [...this.#types.keys()];
  }

  /** Resources of one type; an empty set (with {@link EMPTY_VERSION}) for a type the snapshot does not hold. */
  get(typeUrl: string): TypeSnapshot {
    return this.#types.get(typeUrl) ?? EMPTY_TYPE;
  }

  /** Shorthand for `get(typeUrl).version`. */
  version(typeUrl: string): string {
    return this.get(typeUrl).version;
  }

  /** Every resource hash the snapshot references (one per resource, duplicates across types kept). */
  *hashes(): Iterable<string> {
    for (const t of this.#types.values()) for (const r of t.resources.values()) yield r.hash;
  }
}

/** An empty snapshot: what a node without snapshot is served. */
export const EMPTY_SNAPSHOT = new Snapshot(new Map());

/**
 * The subset of `type` named in `names` (in name order) and its version, computed like a type version
 * over just that subset, so a stream subscribed to every resource sees the type's own version.
 */
export function selectResources(
  type: TypeSnapshot,
  names: readonly string[] | '*',
): { version: string; resources: SnapshotResource[]; names: string[] } {
  if (names === '*') return { version: type.version, resources: [...type.resources.values()], names: [...type.resources.keys()] };
  const picked: [string, SnapshotResource][] = [];
  for (const name of [...new Set(names)].sort()) {
    const r = type.resources.get(name);
    if (r) picked.push([name, r]);
  }
  return {
    version: versionOf(picked.map(([n, r]) => [n, r.hash] as const)),
    resources: picked.map(([, r]) => r),
    names: picked.map(([n]) => n),
  };
}
