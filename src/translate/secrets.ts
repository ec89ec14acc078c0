import { SECRET_TRUST_BUNDLE, SECRET_WORKLOAD_CERT } from './names.ts';

/** Certificate material for one proxy, issued by the CA outside this pure layer. */
export interface ProxyCertificates {
  certChainPem: string;
  privateKeyPem: string;
  trustBundlePem: string;
}

/** `default` (the workload's chain and key) and `ROOTCA` (the trust bundle), as Istio names them. */
export function buildSecrets(certs: ProxyCertificates) {
  return [
    {
      name: SECRET_TRUST_BUNDLE,
      validation_context: { trusted_ca: { inline_string: certs.trustBundlePem } },
    },
    {
      name: SECRET_WORKLOAD_CERT,
      tls_certificate: {
        certificate_chain: { inline_string: certs.certChainPem },
        private_key: { inline_string: certs.privateKeyPem },
      },
    },
  ];
}
