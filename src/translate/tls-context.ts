import { SECRET_TRUST_BUNDLE, SECRET_WORKLOAD_CERT, SYSTEM_CA_BUNDLE, TYPE } from './names.ts';

/**
 * TLS 1.2+ with forward-secret AEAD suites only. The list governs TLS 1.2; TLS 1.3 suites are
 * BoringSSL's defaults (all AEAD). Istio's default also allows non-ECDHE AES-GCM; we do not.
 */
const TLS_PARAMS = {
  tls_minimum_protocol_version: 'TLSv1_2',
  tls_maximum_protocol_version: 'TLSv1_3',
  cipher_suites: [
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
  ],
};

/** Secrets come over the same ADS stream as listeners and clusters. */
const sdsSecret = (name: string) => ({ name, sds_config: { ads: {}, resource_api_version: 'V3' } });

/** The mesh side of a handshake: our certificate from SDS, peers checked against the SDS trust bundle. */
function meshCommonTlsContext(peerSanMatchers: object[], alpn: string[]) {
  return {
    tls_params: TLS_PARAMS,
    ...(alpn.length > 0 && { alpn_protocols: alpn }),
    tls_certificate_sds_secret_configs: [sdsSecret(SECRET_WORKLOAD_CERT)],
    combined_validation_context: {
      default_validation_context: { match_typed_subject_alt_names: peerSanMatchers },
      validation_context_sds_secret_config: sdsSecret(SECRET_TRUST_BUNDLE),
    },
  };
}

/**
 * Server side of mesh mTLS: a client certificate is required, must chain to the trust bundle and
 * carry a workload SPIFFE ID of our trust domain (`spiffe://<td>/ns/...`; the control plane's and
 * the xDS client certificates live outside /ns/). Which caller may do what is authorization's job.
 */
export function buildDownstreamMtlsContext(trustDomain: string, alpn: string[]) {
  return {
    '@type': TYPE.downstreamTls,
    require_client_certificate: { value: true },
    common_tls_context: meshCommonTlsContext([{ san_type: 'URI', matcher: { prefix: `spiffe://${trustDomain}/ns/` } }], alpn),
  };
}

/** Client side of mesh mTLS: the server must prove one of the destination's identities ("secure naming"). */
export function buildUpstreamMtlsContext(peerIdentities: readonly string[]) {
  return {
    '@type': TYPE.upstreamTls,
    common_tls_context: meshCommonTlsContext(
      peerIdentities.map((id) => ({ san_type: 'URI', matcher: { exact: id } })),
      [],
    ),
  };
}

/** Plain TLS to a service outside the mesh: verify the server, present no client certificate. */
export function buildUpstreamSimpleTlsContext(tls: { sni?: string; caCertificates?: string }) {
  return {
    '@type': TYPE.upstreamTls,
    ...(tls.sni !== undefined && { sni: tls.sni }),
    common_tls_context: {
      tls_params: TLS_PARAMS,
      validation_context: {
        // caCertificates is the PEM bundle itself (ExternalService spec), not a file name.
        trusted_ca: tls.caCertificates !== undefined ? { inline_string: tls.caCertificates } : { filename: SYSTEM_CA_BUNDLE },
        ...(tls.sni !== undefined && { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: tls.sni } }] }),
      },
    },
  };
}
