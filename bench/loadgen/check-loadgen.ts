/**
 * Checks the load generator against a real meshplane at a small size: streams held over SotW and
 * Delta, a push ACKed, a NACK on demand seen by the server, and reconnects (SotW answered in full
 * again, Delta announcing what it holds so that only the differences come back).
 *
 *   npx tsx bench/loadgen/check-loadgen.ts [workloads=40]
 *
 * Exits non-zero on any failure.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FILES, nodeIdOf, peerAuthentication } from '../mesh/generate-mesh.ts';
import { meshOf, withFleet } from '../lib/fleet-run.ts';
import { startLoadGenerator } from './controller.ts';

const n = Number(process.argv[2] ?? 40);
const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);
const size = meshOf(n);
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

await withFleet({ size, transport: 'sotw' }, async (f) => {
  check(f.connected!.held === n, `${n} SotW streams held`);
  const initial = (await f.loadgen.received(0)).byType;
  const delta = await startLoadGenerator();
  try {
    const c = await delta.connect({ address: f.server.xdsAddress, nodeIds: f.nodeIds, transport: 'delta' });
    check(c.held === n, `${n} Delta streams held (a second stream per node)`);
    await sleep(500);

    // A push, with LDS NACKed by two SotW nodes and one Delta node.
    const nackers = [nodeIdOf(0, size), nodeIdOf(1, size)];
    await f.loadgen.nack(nackers, 'LDS');
    await delta.nack([nodeIdOf(2, size)], 'LDS');
    const nacks0 = (await f.server.metric('meshplane_xds_nacks_total{type="LDS"}')) ?? 0;
    const since = f.mesh.write(FILES.peerAuthentication, peerAuthentication('STRICT'));
    const sotw = await f.loadgen.converged({ since, require: ['LDS'], timeoutMs: 30_000 });
    const dlt = await delta.converged({ since, require: ['LDS'], timeoutMs: 30_000 });
    check(sotw.missing.length === 0 && dlt.missing.length === 0, 'every stream got the new LDS');
    check(sotw.nacked.join() === nackers.join() && dlt.nacked.join() === nodeIdOf(2, size), 'the armed nodes NACKed, and only they');
    await sleep(300);
    const nacks1 = (await f.server.metric('meshplane_xds_nacks_total{type="LDS"}')) ?? 0;
    check(nacks1 - nacks0 === 3, `the server counted the 3 NACKs (meshplane_xds_nacks_total{type="LDS"} +${nacks1 - nacks0})`);
    const perNode = (await delta.received(since)).resourcesByNode;
    check(Object.values(perNode).every((r) => r === 2), 'Delta: exactly the 2 inbound listeners changed per node');

    // Reconnects: SotW gets every type again; Delta announces its versions and gets nothing new.
    const t1 = Date.now();
    const re = await f.loadgen.reconnect();
    check(re.held === n, `SotW reconnect: ${re.held} held again in ${re.ms} ms`);
    const sotwAgain = await f.loadgen.received(t1);
    const again = sotwAgain.byType;
    check(again.CDS?.resources === initial.CDS?.resources && again.LDS?.resources === initial.LDS?.resources && again.SDS?.resources === 2 * n, `SotW reconnect: all clusters and listeners sent again (${JSON.stringify(again)})`);
    const t2 = Date.now();
    const reDelta = await delta.reconnect();
    check(reDelta.held === n, `Delta reconnect: ${reDelta.held} held again in ${reDelta.ms} ms`);
    const deltaAgain = await delta.received(t2);
    // The NACKing node kept the old listeners, so the server (which counts sent as held) says so: re-sent.
    const resent = Object.entries(deltaAgain.resourcesByNode).filter(([, r]) => r > 0);
    check(resent.length <= 1, `Delta reconnect with initial_resource_versions: ${resent.length} node(s) got resources again (${resent.map(([id, r]) => `${id}: ${r}`).join(', ') || 'none'})`);
    console.log(`  SotW reconnect: ${sum(sotwAgain.bytesByNode)} bytes; Delta reconnect: ${sum(deltaAgain.bytesByNode)} bytes`);
  } finally {
    await delta.stop();
  }
});

console.log(failures.length === 0 ? 'check-loadgen: OK' : `check-loadgen: ${failures.length} failure(s)`);
process.exit(failures.length === 0 ? 0 : 1);
