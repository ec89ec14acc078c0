/**
 * The worker-thread side of the issuer pool: holds the signers it was sent (by key) and issues
 * workload certificates with the same issueWorkloadCert the main thread uses, so the profile is
 * identical. Started by issuer-pool.ts; not an entry point of its own.
 */
import { parentPort } from 'node:worker_threads';
import type { Authority } from './authority.ts';
import { issueWorkloadCert } from './issue.ts';
import { authorityFromMaterial, certToWire, type FromWorker, type ToWorker } from './issuer-messages.ts';
import { errorText } from './state-files.ts';

const port = parentPort;
if (!port) throw new Error('issuer-worker.ts runs in a worker thread started by issuer-pool.ts');

const signers = new Map<string, Promise<Authority>>();
const send = (msg: FromWorker): void => port.postMessage(msg);

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'signer': {
      const loading = authorityFromMaterial(msg.material);
      loading.catch(() => undefined); // reported to each request that uses it
      signers.set(msg.signer, loading);
      return;
    }
    case 'forget':
      signers.delete(msg.signer);
      return;
    case 'issue': {
      const signer = signers.get(msg.signer);
      if (!signer) {
        send({ type: 'failed', id: msg.id, message: `cannot issue a certificate for ${msg.spiffeId}: the issuer worker was not given signer ${msg.signer.slice(0, 12)} (a bug in meshplane)` });
        return;
      }
      void issue(msg, signer);
      return;
    }
    case 'crash':
      throw new Error('simulated crash requested by a test');
    case 'hang':
      for (;;);
  }
});

async function issue(msg: Extract<ToWorker, { type: 'issue' }>, signer: Promise<Authority>): Promise<void> {
  let authority: Authority;
  try {
    authority = await signer;
  } catch (err) {
    send({ type: 'failed', id: msg.id, message: `cannot issue a certificate for ${msg.spiffeId}: the issuer worker could not load the signing CA: ${errorText(err)}` });
    return;
  }
  try {
    const req = { spiffeId: msg.spiffeId, ttlSeconds: msg.ttlSeconds, keyAlgorithm: msg.keyAlgorithm };
    const cert = await issueWorkloadCert(authority, msg.nowMs === undefined ? req : { ...req, now: new Date(msg.nowMs) });
    send({ type: 'issued', id: msg.id, cert: certToWire(cert) });
  } catch (err) {
    // issueWorkloadCert's errors already say "cannot issue a certificate for <id>: why".
    send({ type: 'failed', id: msg.id, message: errorText(err) });
  }
}

send({ type: 'ready' });
