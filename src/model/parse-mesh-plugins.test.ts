import { describe, expect, it } from 'vitest';
import { errorLines, parseTestYaml } from './model-test-helpers.ts';

const mesh = (spec: string) =>
  parseTestYaml(`apiVersion: meshplane.dev/v1alpha1
kind: Mesh
metadata: {name: default}
${spec}
`, { withMesh: false });

describe('Mesh spec.plugins', () => {
  it('reads the entries in order, as written (files are loaded by the control plane, not here)', () => {
    const result = mesh(`spec:
  plugins:
    - {file: ../plugins/inbound-access-log.ts}
    - file: /opt/plugins/header.mjs
      onError: skip-plugin
      options: {header: x-source, list: [1, two], nested: {8080: true}}`);
    expect(result.violations).toEqual([]);
    expect(result.model!.mesh.plugins).toEqual([
      { file: '../plugins/inbound-access-log.ts', path: 'spec.plugins[0]' },
      { file: '/opt/plugins/header.mjs', path: 'spec.plugins[1]', onError: 'skip-plugin', options: { header: 'x-source', list: [1, 'two'], nested: { '8080': true } } },
    ]);
  });

  it('no list (or an empty one): no plugins field', () => {
    expect(mesh('spec: {}').model!.mesh.plugins).toBeUndefined();
    expect(mesh('spec: {plugins: []}').model!.mesh.plugins).toBeUndefined();
  });

  it('rejects bad entries with the field path and a fix', () => {
    const result = mesh(`spec:
  plugins:
    - {onError: skip-plugin}
    - {file: plugins/header.yaml}
    - {file: a.ts, onError: skip, options: [a]}
    - {file: b.ts, options: {when: 2026-01-01}, order: 1}
    - ../plugins/c.ts`);
    expect(errorLines(result)).toEqual([
      'test.yaml: spec.plugins[0].file: "file" is required: the path of the plugin module, relative to the config directory or absolute, e.g. "../plugins/inbound-access-log.ts"',
      'test.yaml: spec.plugins[1].file: "plugins/header.yaml" is not a plugin module: use a .ts, .mts, .js, .mjs file whose default export is a TranslatorPlugin (see README "Plugins")',
      'test.yaml: spec.plugins[2].onError: must be one of fail-closed, skip-plugin, got "skip"',
      'test.yaml: spec.plugins[2].options: must be a mapping of option names to values, e.g. {header: x-meshplane-source}, got a list',
      'test.yaml: spec.plugins[3].order: unknown field "order": remove it (supported fields here: file, onError, options)',
      'test.yaml: spec.plugins[4]: must be a mapping, got the string "../plugins/c.ts"',
    ]);
    expect(errorLines(mesh('spec: {plugins: {file: a.ts}}'))).toEqual(['test.yaml: spec.plugins: must be a list, got a mapping']);
  });
});
