import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModelDir, parseModelFiles } from './load-model.ts';
import { errorLines, MESH_YAML, parseTestYaml, serviceYaml, violationLines } from './model-test-helpers.ts';
import type { MeshModel } from './types.ts';

const DESIGN_EXAMPLE = fileURLToPath(new URL('./testdata/design-example', import.meta.url));
const noLabels = { labels: {}, annotations: {} };

describe('loadModelDir', () => {
  it('parses the DESIGN.md example into the expected model', async () => {
    const result = await loadModelDir(DESIGN_EXAMPLE);
    expect(result.violations).toEqual([]);
    expect(result.files.map((f) => f.file)).toEqual(['mesh.yaml', 'payments.yaml']);
    const expected: MeshModel = {
      mesh: {
        kind: 'Mesh',
        source: { file: 'mesh.yaml', index: 0 },
        metadata: { name: 'default', namespace: 'default', ...noLabels },
        trustDomain: 'cluster.local',
        rootNamespace: 'mesh-system',
        ca: { keyAlgorithm: 'ECDSA_P256', workloadCertTtlSeconds: 86400, rotationRatio: 0.5, rootCertTtlSeconds: 87600 * 3600 },
      },
      services: [
        {
          kind: 'Service',
          source: { file: 'mesh.yaml', index: 1 },
          metadata: { name: 'backend', namespace: 'shop', ...noLabels },
          ports: [{ name: 'http-api', protocol: 'HTTP' }],
        },
        {
          kind: 'Service',
          source: { file: 'payments.yaml', index: 0 },
          metadata: { name: 'payments', namespace: 'shop', ...noLabels },
          ports: [{ name: 'http', protocol: 'HTTP' }],
        },
      ],
      workloads: [
        {
          kind: 'Workload',
          source: { file: 'mesh.yaml', index: 2 },
          metadata: { name: 'backend-1', namespace: 'shop', labels: { app: 'backend' }, annotations: {} },
          serviceAccount: 'backend',
          address: '127.0.0.11',
          sidecar: true,
          proxyless: false,
          inbound: [{ service: 'backend', port: 'http-api', listenPort: 18080, targetPort: 8080, targetAddress: '127.0.0.1' }],
          outbound: [{ service: 'payments.shop', port: 'http', listenPort: 19001, bind: '127.0.0.1' }],
        },
      ],
      externalServices: [
        {
          kind: 'ExternalService',
          source: { file: 'mesh.yaml', index: 3 },
          metadata: { name: 'telemetry', namespace: 'shop', ...noLabels },
          address: '127.0.0.1',
          port: 4317,
          protocol: 'TCP',
          tls: 'DISABLE',
        },
      ],
      peerAuthentications: [
        {
          kind: 'PeerAuthentication',
          source: { file: 'mesh.yaml', index: 4 },
          metadata: { name: 'default', namespace: 'shop', ...noLabels },
          mode: 'STRICT',
          portLevelMtls: new Map(),
        },
      ],
      authorizationPolicies: [
        {
          kind: 'AuthorizationPolicy',
          source: { file: 'mesh.yaml', index: 5 },
          metadata: { name: 'backend-allow', namespace: 'shop', ...noLabels },
          selector: { app: 'backend' },
          action: 'ALLOW',
          dryRun: false,
          rules: [{ from: [{ principals: ['cluster.local/ns/shop/sa/frontend'] }], to: [{ methods: ['GET'], paths: ['/api/*'] }], when: [] }],
        },
      ],
    };
    expect(result.model).toEqual(expected);
    expect(result.model!.peerAuthentications[0]!.selector).toBeUndefined();
    expect(result.model!.externalServices[0]).not.toHaveProperty('sni');
  });

  describe('reading a directory', () => {
    let dir = '';
    afterEach(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
      dir = '';
    });

    it('reads *.yaml and *.yml recursively, sorted, skipping dotfiles, dot-dirs and other files', async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshplane-model-'));
      await mkdir(join(dir, 'shop'));
      await mkdir(join(dir, '.git'));
      await writeFile(join(dir, 'mesh.yaml'), MESH_YAML);
      await writeFile(join(dir, 'shop', 'z.yml'), serviceYaml('zeta', 'shop', '[{name: http}]'));
      await writeFile(join(dir, 'shop', 'a.yaml'), serviceYaml('alpha', 'shop', '[{name: http}]'));
      await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
      await writeFile(join(dir, '.git', 'x.yaml'), 'not: [valid');
      await writeFile(join(dir, 'README.md'), '# not config');
      await symlink(join(dir, 'shop', 'a.yaml'), join(dir, 'linked.yaml'));
      const result = await loadModelDir(dir);
      expect(result.files.map((f) => f.file)).toEqual(['linked.yaml', 'mesh.yaml', 'shop/a.yaml', 'shop/z.yml']);
      // The symlink duplicates shop/alpha: proof that it was followed.
      expect(errorLines(result)).toEqual([
        'shop/a.yaml: metadata.name: Service "alpha" in namespace "shop" clashes with the Service of the same name in linked.yaml: rename one of them',
      ]);
    });

    it('ignores editor artefacts without touching them, even dangling ones', async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshplane-model-'));
      await writeFile(join(dir, 'mesh.yaml'), MESH_YAML);
      for (const junk of ['.mesh.yaml.swp', 'mesh.yaml~', '#mesh.yaml#', '4913', '.mesh.yaml.tmp', 'mesh.yaml.bak']) await writeFile(join(dir, junk), 'not: [valid');
      // vim's 4913 probe or emacs' lock may vanish mid-scan: a dangling non-YAML name is not config.
      await symlink(join(dir, 'gone'), join(dir, 'mesh.yaml.orig'));
      const result = await loadModelDir(dir);
      expect(result.violations).toEqual([]);
      expect(result.files.map((f) => f.file)).toEqual(['mesh.yaml']);
    });

    it('a .yaml name that is a directory or a dangling link is an error, never silently skipped', async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshplane-model-'));
      await writeFile(join(dir, 'mesh.yaml'), MESH_YAML);
      await mkdir(join(dir, 'policy.yaml'));
      await writeFile(join(dir, 'policy.yaml', 'inner.yaml'), serviceYaml('alpha', 'shop', '[{name: http}]'));
      await symlink(join(dir, 'gone.yaml'), join(dir, 'z.yaml'));
      const result = await loadModelDir(dir);
      expect(result.model).toBeUndefined();
      expect(result.violations.map((v) => `${v.file}: ${v.message.replace(/ENOENT.*/, 'ENOENT')}`)).toEqual([
        'policy.yaml: is a directory; a .yaml/.yml name must be a YAML file: rename or remove it',
        'z.yaml: cannot read file: ENOENT',
      ]);
    });

    it('reports a missing directory and an empty directory instead of throwing', async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshplane-model-'));
      const missing = await loadModelDir(join(dir, 'nope'));
      expect(missing.model).toBeUndefined();
      expect(missing.violations).toHaveLength(1);
      expect(missing.violations[0]!.message).toMatch(/^cannot read directory: ENOENT.*check the path/);
      const empty = await loadModelDir(dir);
      expect(empty.violations.map((v) => v.message)).toEqual([
        'no .yaml or .yml files found: put the Mesh, Services and Workloads here, or point --config at the right directory',
      ]);
    });
  });
});

describe('parseModelFiles: documents and kinds', () => {
  it('needs exactly one Mesh', () => {
    const none = parseTestYaml(serviceYaml('a', 'shop', '[{name: http}]'), { withMesh: false });
    expect(none.model).toBeUndefined();
    expect(errorLines(none)).toEqual([
      '(config): no Mesh found: add exactly one Mesh document, e.g. a file mesh.yaml with {apiVersion: meshplane.dev/v1alpha1, kind: Mesh, metadata: {name: default}, spec: {trustDomain: cluster.local, rootNamespace: mesh-system}}',
    ]);
    const two = parseModelFiles([
      { file: 'a.yaml', text: MESH_YAML },
      { file: 'b.yaml', text: `${MESH_YAML}---\n${MESH_YAML.replace('default', 'other')}` },
    ]);
    expect(errorLines(two)).toEqual([
      'b.yaml:1: only one Mesh is allowed and one is already defined in a.yaml: remove this one or merge the two',
      'b.yaml:5: only one Mesh is allowed and one is already defined in a.yaml: remove this one or merge the two',
    ]);
  });

  it('is independent of the order files are given in', () => {
    const files = [
      { file: 'b.yaml', text: serviceYaml('b', 'shop', '[{name: http}]') },
      { file: 'mesh.yaml', text: MESH_YAML },
      { file: 'a.yaml', text: `${serviceYaml('c', 'default', '[{name: http}]')}---\n${serviceYaml('a', 'shop', '[{name: http}]')}` },
    ];
    const forward = parseModelFiles(files);
    const backward = parseModelFiles([...files].reverse());
    expect(forward).toEqual(backward);
    expect(forward.model!.services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(['default/c', 'shop/a', 'shop/b']);
    expect(forward.model!.services.map((s) => s.source)).toEqual([
      { file: 'a.yaml', index: 0 },
      { file: 'a.yaml', index: 1 },
      { file: 'b.yaml', index: 0 },
    ]);
  });

  it('rejects unknown kinds and wrong apiVersions', () => {
    const result = parseTestYaml(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow, namespace: shop}
spec: {action: ALLOW}
---
apiVersion: meshplane.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: deny, namespace: shop}
---
apiVersion: meshplane.dev/v1alpha1
kind: service
metadata: {name: a}
---
apiVersion: meshplane.dev/v1alpha1
kind: Gateway
metadata: {name: a}
---
apiVersion: meshplane.dev/v1
kind: Service
metadata: {name: b}
spec: {ports: [{name: http}]}
---
apiVersion: meshplane.dev/v1alpha1
kind: PeerAuthentication
metadata: {name: c}
---
kind: Workload
metadata: {name: d}
spec: {address: 127.0.0.1}
`);
    const supported =
      'supported kinds are Mesh, Service, Workload, ExternalService (apiVersion meshplane.dev/v1alpha1) and PeerAuthentication, AuthorizationPolicy (apiVersion security.istio.io/v1 or security.istio.io/v1beta1)';
    expect(errorLines(result)).toEqual([
      'test.yaml:6: apiVersion: apiVersion "meshplane.dev/v1alpha1" is not supported for kind AuthorizationPolicy: use security.istio.io/v1 or security.istio.io/v1beta1',
      `test.yaml:10: kind: unknown kind "service" (did you mean "Service"?): ${supported}`,
      `test.yaml:14: kind: unknown kind "Gateway": ${supported}`,
      'test.yaml:18: apiVersion: apiVersion "meshplane.dev/v1" is not supported for kind Service: use meshplane.dev/v1alpha1',
      'test.yaml:23: apiVersion: apiVersion "meshplane.dev/v1alpha1" is not supported for kind PeerAuthentication: use security.istio.io/v1 or security.istio.io/v1beta1',
      'test.yaml:27: apiVersion: "apiVersion" is required: use meshplane.dev/v1alpha1 for kind Workload',
    ]);
  });

  it('accepts PeerAuthentication as security.istio.io/v1beta1', () => {
    const result = parseTestYaml(`apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: PERMISSIVE}}
`);
    expect(result.violations).toEqual([]);
    expect(result.model!.peerAuthentications[0]!.mode).toBe('PERMISSIVE');
  });

  it('rejects unknown top-level fields and documents that are not mappings', () => {
    const result = parseTestYaml(`apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: a}
spec: {ports: [{name: http}]}
status: {}
specs: {}
---
- just a list
---
plain text
`);
    expect(errorLines(result)).toEqual([
      'test.yaml:1: status: field "status" is not supported: status is written by a controller, not configured: remove it',
      'test.yaml:1: specs: unknown field "specs"; did you mean "spec"?',
      'test.yaml:8: a document must be a mapping with apiVersion, kind, metadata and spec, got a list',
      'test.yaml:10: a document must be a mapping with apiVersion, kind, metadata and spec, got the string "plain text"',
    ]);
  });

  it('keeps the model when there are only warnings, and sorts violations by file', () => {
    const result = parseModelFiles([
      { file: 'z.yaml', text: serviceYaml('z', 'shop', '[{name: api}]') },
      { file: 'mesh.yaml', text: MESH_YAML },
      { file: 'a.yaml', text: serviceYaml('a', 'shop', '[{name: web}]') },
    ]);
    expect(result.model).toBeDefined();
    expect(violationLines(result)).toEqual([
      'a.yaml: spec.ports[0].name: warning: protocol of port "web" cannot be determined; defaulting to TCP: name it http-web / tcp-web or set protocol',
      'z.yaml: spec.ports[0].name: warning: protocol of port "api" cannot be determined; defaulting to TCP: name it http-api / tcp-api or set protocol',
    ]);
  });
});
