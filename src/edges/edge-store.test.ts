import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EDGE_RETENTION_MS, EDGES_FILE, EdgeStore, MAX_EDGES } from './edge-store.ts';
import { manualClock, mtlsFrom, plaintextFrom, silentLogger, T0 } from './edges-test-helpers.ts';

let stateDir = '';
beforeEach(() => void (stateDir = mkdtempSync(join(tmpdir(), 'meshplane-edges-'))));
afterEach(() => rmSync(stateDir, { recursive: true, force: true }));

const open = (clock = manualClock()) => EdgeStore.open({ stateDir, clock, logger: silentLogger() });

describe('EdgeStore', () => {
  it('folds reports into one edge per node, port, transport and caller, with counts and first and last sighting', async () => {
    const clock = manualClock();
    const store = await open(clock);
    store.record('backend-1.shop', plaintextFrom('127.0.0.13', 18080));
    clock.advance(1000);
    store.record('backend-1.shop', plaintextFrom('127.0.0.13', 18080));
    store.record('backend-1.shop', { ...plaintextFrom('127.0.0.13', 18090), refused: true });
    store.record('backend-1.shop', mtlsFrom('spiffe://cluster.local/ns/shop/sa/frontend', 18080, '127.0.0.1'));
    store.record('frontend-1.shop', plaintextFrom('127.0.0.1', 18080, '127.0.0.12'));
    const edges = store.edges();
    expect(edges.map((e) => [e.node, e.listenPort, e.mtls, e.peer, e.count, e.refused])).toEqual([
      ['backend-1.shop', 18080, false, '127.0.0.13', 2, 0],
      ['backend-1.shop', 18080, true, 'spiffe://cluster.local/ns/shop/sa/frontend', 1, 0],
      ['backend-1.shop', 18090, false, '127.0.0.13', 1, 1],
      ['frontend-1.shop', 18080, false, '127.0.0.1', 1, 0],
    ]);
    expect(edges[0]).toMatchObject({ firstSeen: T0, lastSeen: T0 + 1000 });
    await store.close();
  });

  it('filters by last sighting and by node', async () => {
    const clock = manualClock();
    const store = await open(clock);
    store.record('a.ns', plaintextFrom('10.0.0.1', 1));
    clock.advance(60_000);
    store.record('b.ns', plaintextFrom('10.0.0.2', 1));
    expect(store.edges({ since: T0 + 30_000 }).map((e) => e.node)).toEqual(['b.ns']);
    expect(store.edges({ nodes: new Set(['a.ns']) }).map((e) => e.node)).toEqual(['a.ns']);
    await store.close();
  });

  it('keeps the edges across a restart, in the state dir', async () => {
    const clock = manualClock();
    const first = await open(clock);
    first.record('backend-1.shop', plaintextFrom('127.0.0.13', 18080));
    await first.close();
    expect(JSON.parse(readFileSync(join(stateDir, EDGES_FILE), 'utf8')).edges).toHaveLength(1);
    const second = await open(clock);
    expect(second.edges()).toMatchObject([{ node: 'backend-1.shop', peer: '127.0.0.13', count: 1 }]);
    await second.close();
  });

  it('forgets edges older than the retention', async () => {
    const clock = manualClock();
    const first = await open(clock);
    first.record('old.ns', plaintextFrom('10.0.0.1', 1));
    clock.advance(EDGE_RETENTION_MS - 1000);
    first.record('new.ns', plaintextFrom('10.0.0.2', 1));
    await first.close();
    clock.advance(2000);
    const second = await open(clock);
    expect(second.edges().map((e) => e.node)).toEqual(['new.ns']);
    await second.close();
  });

  it('starts empty from a corrupt file and skips malformed entries', async () => {
    writeFileSync(join(stateDir, EDGES_FILE), '{not json');
    const a = await open();
    expect(a.edges()).toEqual([]);
    await a.close();
    writeFileSync(join(stateDir, EDGES_FILE), JSON.stringify({ edges: [{ node: 'x' }, { node: 'y.ns', listenPort: 1, mtls: false, peer: '10.0.0.1', peerAddress: '10.0.0.1', firstSeen: T0, lastSeen: T0, count: 1, refused: 0 }] }));
    const b = await open();
    expect(b.edges().map((e) => e.node)).toEqual(['y.ns']);
    await b.close();
  });

  it(`holds at most ${MAX_EDGES} edges, forgetting the least recently seen`, async () => {
    const clock = manualClock();
    const store = await open(clock);
    for (let i = 0; i < MAX_EDGES; i++) {
      store.record('backend-1.shop', plaintextFrom(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 18080));
      if (i === 0) clock.advance(1000); // the first is the oldest
    }
    store.record('backend-1.shop', plaintextFrom('192.168.0.1', 18080));
    const peers = new Set(store.edges().map((e) => e.peer));
    expect(peers.size).toBe(MAX_EDGES);
    expect(peers.has('10.0.0.0')).toBe(false);
    expect(peers.has('192.168.0.1')).toBe(true);
    await store.close();
  });
});
