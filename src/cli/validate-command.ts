import { formatViolation } from '../errors.ts';
import { loadModelDir } from '../model/load-model.ts';
import { hasEnvoy } from '../plan/build-proxy-plans.ts';
import { required } from './args.ts';

/** Prints every violation as `file: path: message`; exit 1 when any is an error. */
export async function validateCommand(values: Record<string, string | boolean | undefined>): Promise<number> {
  const dir = required(values, 'config');
  const { model, violations } = await loadModelDir(dir);
  for (const v of violations) (v.severity === 'error' ? console.error : console.warn)(formatViolation(v));
  if (!model) {
    const errors = violations.filter((v) => v.severity === 'error').length;
    console.error(`${dir}: ${errors} error${errors === 1 ? '' : 's'}`);
    return 1;
  }
  const sidecars = model.workloads.filter(hasEnvoy).length;
  const proxyless = model.workloads.filter((w) => w.proxyless).length;
  console.log(`${dir}: ok (${model.services.length} services, ${model.workloads.length} workloads, ${sidecars} with sidecars, ${proxyless > 0 ? `${proxyless} proxyless, ` : ''}${model.peerAuthentications.length} PeerAuthentications, ${model.authorizationPolicies.length} AuthorizationPolicies)`);
  return 0;
}
