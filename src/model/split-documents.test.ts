import { describe, expect, it } from 'vitest';
import { splitDocuments } from './split-documents.ts';

describe('splitDocuments', () => {
  it('cuts before every `---` line, each piece with the lines before it', () => {
    const text = 'a: 1\n---\nb: 2\n--- # c\nc: 3\n---\td: 4\n';
    expect(splitDocuments(text)).toEqual([
      { text: 'a: 1\n', line: 0 },
      { text: '---\nb: 2\n', line: 1 },
      { text: '--- # c\nc: 3\n', line: 3 },
      { text: '---\td: 4\n', line: 5 },
    ]);
    expect(splitDocuments(text)!.map((p) => p.text).join('')).toBe(text);
  });

  it('does not cut where no document starts: `---` not alone, indented, or at the very start', () => {
    expect(splitDocuments('---\na: |\n  ---\n  x\nb: ---x\n---x: 1\n')).toEqual([{ text: '---\na: |\n  ---\n  x\nb: ---x\n---x: 1\n', line: 0 }]);
  });

  it('handles CRLF line ends and a last line without one', () => {
    expect(splitDocuments('a: 1\r\n---\r\nb: 2')).toEqual([
      { text: 'a: 1\r\n', line: 0 },
      { text: '---\r\nb: 2', line: 1 },
    ]);
  });

  it('gives up on directives and document end markers, after which a document may start without `---`', () => {
    expect(splitDocuments('%YAML 1.2\n---\na: 1\n')).toBeUndefined();
    expect(splitDocuments('a: 1\n...\nb: 2\n')).toBeUndefined();
    expect(splitDocuments('a: 1\n... # end\n')).toBeUndefined();
    expect(splitDocuments('a: 1\n...x: 2\n')).toEqual([{ text: 'a: 1\n...x: 2\n', line: 0 }]);
  });
});
