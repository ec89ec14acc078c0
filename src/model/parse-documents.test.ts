import { describe, expect, it } from 'vitest';
import { parseDocuments } from './parse-documents.ts';
import { errorLines, parseTestYaml } from './model-test-helpers.ts';

describe('parseDocuments', () => {
  it('skips empty documents and names documents by their first content line only in multi-document files', () => {
    const { documents, violations } = parseDocuments([
      { file: 'one.yaml', text: '---\na: 1\n---\n' },
      { file: 'many.yaml', text: 'a: 1\n---\n---\n# only a comment\n---\nb: 2\n' },
      { file: 'empty.yaml', text: '' },
    ]);
    expect(violations).toEqual([]);
    expect(documents.map((d) => [d.file, d.source])).toEqual([
      ['one.yaml', { file: 'one.yaml', index: 0 }],
      ['many.yaml:1', { file: 'many.yaml', index: 0 }],
      ['many.yaml:6', { file: 'many.yaml', index: 3 }],
    ]);
    expect(documents[0]!.value).toEqual(new Map([['a', 1]]));
  });

  it('reports YAML syntax errors with line and column, and keeps the other documents', () => {
    const { documents, violations } = parseDocuments([{ file: 'bad.yaml', text: 'a: 1\n---\nb: [1, 2\nc: d\n---\nok: true\n' }]);
    expect(violations).toEqual([
      {
        file: 'bad.yaml:3',
        path: '',
        message: 'YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]; fix the YAML',
        severity: 'error',
      },
    ]);
    expect(documents.map((d) => d.file)).toEqual(['bad.yaml:1', 'bad.yaml:6']);
  });

  it('reports duplicate keys and tabs', () => {
    const { violations } = parseDocuments([{ file: 'dup.yaml', text: 'kind: Service\nkind: Mesh\n' }, { file: 'tab.yaml', text: 'a:\n\t- b\n' }]);
    expect(violations.map((v) => `${v.file}: ${v.message}`)).toEqual([
      'dup.yaml: YAML syntax error at line 2, column 1: Map keys must be unique; fix the YAML',
      expect.stringMatching(/^tab\.yaml: YAML syntax error at line 2, column 1: Tabs are not allowed as indentation/),
    ]);
  });

  it('keeps 8080 and "8080" apart so that colliding keys can be reported', () => {
    const { documents } = parseDocuments([{ file: 'k.yaml', text: 'x: {8080: a, "8080": b}\n' }]);
    const x = (documents[0]!.value as Map<string, unknown>).get('x') as Map<unknown, unknown>;
    expect([...x.keys()]).toEqual([8080, '8080']);
  });

  it('refuses alias bombs without throwing', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
    const { documents, violations } = parseDocuments([{ file: 'bomb.yaml', text: `${bomb.join('\n')}\n` }]);
    expect(documents).toEqual([]);
    expect(violations).toHaveLength(1);
    expect(violations[0]!.message).toMatch(/^cannot read YAML document: .*; simplify anchors\/aliases$/);
  });

  it('a syntax error makes the whole configuration invalid', () => {
    const result = parseTestYaml('kind: [\n');
    expect(result.model).toBeUndefined();
    expect(errorLines(result)[0]).toMatch(/^test\.yaml: YAML syntax error at line \d+, column \d+: /);
  });
});
