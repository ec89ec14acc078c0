import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseModelFiles } from './load-model.ts';
import { MESH_YAML } from './model-test-helpers.ts';
import { ModelParser } from './model-parser.ts';
import { configFileFromBytes, type ConfigFile } from './parse-documents.ts';

/**
 * ModelParser gives exactly parseModelFiles's result (model and violations, names and lines),
 * while parsing again only the documents whose text or place changed.
 */
const GOLDEN_DIR = fileURLToPath(new URL('../../testdata/in', import.meta.url));
const DESIGN_DIR = fileURLToPath(new URL('./testdata/design-example', import.meta.url));
const read = (dir: string) => readdirSync(dir).map((file) => ({ file, text: readFileSync(`${dir}/${file}`, 'utf8') }));

const service = (name: string) => `apiVersion: meshplane.dev/v1alpha1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {ports: [{name: http-api}, {name: tcp-data}]}
`;
const workload = (name: string, app: string, address: string) => `apiVersion: meshplane.dev/v1alpha1
kind: Workload
metadata: {name: ${name}, namespace: shop, labels: {app: ${app}}}
spec:
  serviceAccount: ${app}
  address: ${address}
  inbound: [{service: ${app}, port: http-api, listenPort: 18080, targetPort: 8080}]
  outbound: [{service: backend, port: http-api, listenPort: 19001, bind: ${address}}]
`;
const policy = (name: string, app: string, path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: shop}
spec:
  selector: {matchLabels: {app: ${app}}}
  rules: [{to: [{operation: {methods: [GET], paths: ["${path}"], ports: ["8080"]}}]}]
`;

function expectSame(parser: ModelParser, files: ConfigFile[]): void {
  expect(parser.parse(files)).toStrictEqual(parseModelFiles(files));
}

describe('ModelParser', () => {
  it('gives what parseModelFiles gives for the golden inputs and the DESIGN.md example', () => {
    for (const files of [read(GOLDEN_DIR), read(DESIGN_DIR)]) expectSame(new ModelParser(), files);
  });

  it('parses again only the changed document; the rest of the model is the same objects', () => {
    const parser = new ModelParser();
    const policies = (path: string) => [policy('a', 'backend', '/a/*'), policy('b', 'frontend', path), policy('c', 'other', '/c/*')].join('---\n');
    const files = (path: string) => [
      { file: 'mesh.yaml', text: MESH_YAML },
      { file: 'topology.yaml', text: [service('backend'), service('frontend'), service('other'), workload('b-1', 'backend', '127.0.0.11'), workload('f-1', 'frontend', '127.0.0.12')].join('---\n') },
      { file: 'policies.yaml', text: policies(path) },
    ];
    const first = parser.parse(files('/b/*'));
    expect(first.violations.map((v) => v.severity)).toEqual(['warning']); // policy c selects nobody
    expect(parser.documentsParsed).toBe(9);
    const second = parser.parse(files('/b/v2/*'));
    expect(second).toStrictEqual(parseModelFiles(files('/b/v2/*')));
    expect(parser.documentsParsed).toBe(1);
    const [m1, m2] = [first.model!, second.model!];
    expect(m2.mesh).toBe(m1.mesh);
    expect(m2.workloads).toBe(m1.workloads);
    expect(m2.services).toBe(m1.services);
    expect(m2.authorizationPolicies).not.toBe(m1.authorizationPolicies);
    expect(m2.authorizationPolicies[0]).toBe(m1.authorizationPolicies[0]);
    expect(m2.authorizationPolicies[1]).not.toBe(m1.authorizationPolicies[1]);
    expect(m2.authorizationPolicies[2]).toBe(m1.authorizationPolicies[2]);

    // Unchanged: nothing parsed, the same model lists.
    const third = parser.parse(files('/b/v2/*'));
    expect(parser.documentsParsed).toBe(0);
    expect(third.model!.authorizationPolicies).toBe(m2.authorizationPolicies);
  });

  it('names documents by their new lines when an edit above them moves them', () => {
    const parser = new ModelParser();
    const text = (extra: string) => [service('backend'), `${extra}${policy('a', 'backend', '/a/*')}`, 'apiVersion: v9\nkind: Nope\n'].join('---\n');
    const before = [{ file: 'mesh.yaml', text: MESH_YAML }, { file: 'x.yaml', text: text('') }];
    expectSame(parser, before);
    const moved = [{ file: 'mesh.yaml', text: MESH_YAML }, { file: 'x.yaml', text: text('# two\n# more lines\n') }];
    expectSame(parser, moved);
    expect(parser.documentsParsed).toBe(2); // the edited one and the one below it
    const lines = (files: ConfigFile[]) => parser.parse(files).violations.map((v) => Number(v.file.split(':')[1]));
    expect(lines(moved)).toEqual(lines(before).map((l) => l + 2));
  });

  it('falls back to the whole file for YAML problems, directives and end markers, and recovers', () => {
    const parser = new ModelParser();
    const versions = [
      [service('a'), service('b')].join('---\n'),
      [service('a'), 'kind: [unclosed\n', service('b')].join('---\n'),
      [service('a'), service('b')].join('---\n'),
      `%YAML 1.2\n---\n${service('a')}`,
      `${service('a')}...\n---\n${service('b')}`,
      [service('a'), 'a: 1\na: 2\n', service('b')].join('---\n'),
      [service('a'), service('b')].join('---\n'),
    ];
    for (const text of versions) expectSame(parser, [{ file: 'mesh.yaml', text: MESH_YAML }, { file: 'svc.yaml', text }]);
  });

  it('compares files read from disk by their bytes, and decodes only the ones that changed', () => {
    const parser = new ModelParser();
    const onDisk = (file: string, text: string) => configFileFromBytes(file, Buffer.from(text));
    parser.parse([onDisk('mesh.yaml', MESH_YAML), onDisk('svc.yaml', service('a'))]);
    let decoded = 0;
    const watched = (file: string, text: string): ConfigFile => {
      const f = onDisk(file, text);
      return { file, bytes: f.bytes!, get text() { decoded++; return f.text; } };
    };
    const result = parser.parse([watched('mesh.yaml', MESH_YAML), watched('svc.yaml', service('b'))]);
    expect(decoded).toBe(1);
    expect(result).toStrictEqual(parseModelFiles([{ file: 'mesh.yaml', text: MESH_YAML }, { file: 'svc.yaml', text: service('b') }]));
  });

  it('property: any sequence of edits gives what parseModelFiles gives', () => {
    const DOCS = [
      MESH_YAML,
      service('backend'),
      service('frontend'),
      workload('b-1', 'backend', '127.0.0.11'),
      workload('f-1', 'frontend', '127.0.0.12'),
      workload('f-2', 'frontend', '127.0.0.12'), // a listener clash with f-1
      policy('p', 'backend', '/p/*'),
      policy('p', 'frontend', '/q/*'), // a name clash when both are there
      policy('q', 'nobody', '/x/*'), // selects nothing: a warning
      '# only a comment\n',
      '',
      'kind: [unclosed\n',
      'a: 1\na: 2\n',
      'key: |\n  ---\n  indented marker in a block scalar\n',
      'apiVersion: meshplane.dev/v1alpha1\nkind: Service\nmetadata: {name: s, namespace: shop}\nspec: {ports: [{name: http, protocol: FTP}]}\n',
      'x: &a [1, 2]\ny: *a\n',
      '- not\n- a mapping\n',
    ];
    const SEPARATORS = ['---\n', '--- \n', '---\n# between\n', '--- # marker comment\n', '---\r\n', '...\n---\n', '---\n---\n'];
    const fileArb = fc.record({
      name: fc.constantFrom('a.yaml', 'b.yaml', 'dir/c.yml'),
      docs: fc.array(fc.nat({ max: DOCS.length - 1 }), { maxLength: 8 }),
      separators: fc.array(fc.nat({ max: SEPARATORS.length - 1 }), { minLength: 8, maxLength: 8 }),
      prefix: fc.constantFrom('', '', '---\n', '# header\n', '%YAML 1.2\n---\n', '\uFEFF'),
    });
    const render = (f: { docs: number[]; separators: number[]; prefix: string }) =>
      f.prefix + f.docs.map((d, i) => (i === 0 ? '' : SEPARATORS[f.separators[i]!]!) + DOCS[d]!).join('');
    fc.assert(
      fc.property(fc.array(fc.array(fileArb, { minLength: 1, maxLength: 3 }), { minLength: 2, maxLength: 6 }), (versions) => {
        const parser = new ModelParser();
        for (const version of versions) {
          const files = new Map(version.map((f) => [f.name, render(f)]));
          const list = [...files].map(([name, text]) => ({ file: name, text }));
          expect(parser.parse(list)).toStrictEqual(parseModelFiles(list));
        }
      }),
      { seed: 20_261_129, numRuns: 300 },
    );
  });
});
