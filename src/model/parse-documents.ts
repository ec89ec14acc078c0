/**
 * YAML text → raw documents (plain JS values, mappings as `Map`) with where they came from.
 * Syntax errors become violations with line and column; empty documents are skipped.
 */
import { parseAllDocuments } from 'yaml';
import type { Violation } from '../errors.ts';
import type { Source } from './types.ts';

export interface ConfigFile {
  /** Path relative to the config directory, with `/` separators. */
  file: string;
  text: string;
}

export interface RawDocument {
  /** How violations name this document: `mesh.yaml`, or `mesh.yaml:12` (the line it starts on) in a multi-document file. */
  file: string;
  source: Source;
  /** The document as plain values; mappings are `Map`s so that `8080` and `"8080"` keys stay distinct. */
  value: unknown;
}

export interface ParsedDocuments {
  documents: RawDocument[];
  violations: Violation[];
}

/** Aliases expanding into a big tree is the classic YAML bomb; real configs need few. */
const MAX_ALIAS_COUNT = 100;

export function parseDocuments(files: readonly ConfigFile[]): ParsedDocuments {
  const documents: RawDocument[] = [];
  const violations: Violation[] = [];
  for (const { file, text } of files) {
    const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
    const list = (Array.isArray(docs) ? docs : []).map((doc) => {
      if (doc.errors.length > 0) return { doc, value: undefined, failure: undefined };
      try {
        return { doc, value: doc.toJS({ mapAsMap: true, maxAliasCount: MAX_ALIAS_COUNT }) as unknown, failure: undefined };
      } catch (err) {
        return { doc, value: undefined, failure: err instanceof Error ? err.message : String(err) };
      }
    });
    const isEmpty = (d: (typeof list)[number]) => d.doc.errors.length === 0 && d.failure === undefined && (d.value === null || d.value === undefined);
    const multi = list.filter((d) => !isEmpty(d)).length > 1;
    const lineOf = lineCounter(text);
    list.forEach((d, index) => {
      const where = multi ? `${file}:${lineOf(d.doc.contents?.range?.[0] ?? d.doc.range[0])}` : file;
      for (const err of d.doc.errors) {
        violations.push({ file: where, path: '', message: syntaxMessage('YAML syntax error', err.message, err.linePos?.[0]), severity: 'error' });
      }
      if (d.doc.errors.length > 0) return;
      for (const warn of d.doc.warnings) {
        violations.push({ file: where, path: '', message: syntaxMessage('YAML warning', warn.message, warn.linePos?.[0]), severity: 'warning' });
      }
      if (d.failure !== undefined) {
        violations.push({ file: where, path: '', message: `cannot read YAML document: ${d.failure}; simplify anchors/aliases`, severity: 'error' });
        return;
      }
      if (isEmpty(d)) return;
      documents.push({ file: where, source: { file, index }, value: d.value });
    });
  }
  return { documents, violations };
}

/** yaml's pretty messages carry a code excerpt after "at line L, column C:"; keep one line. */
function syntaxMessage(what: string, message: string, pos: { line: number; col: number } | undefined): string {
  let first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '').replace(/[.:]\s*$/, '');
  // The parser's own stack ran out: say what in the YAML did it.
  if (/Maximum call stack size exceeded/.test(first)) first = 'lists or mappings nested too deeply to read (hundreds of levels)';
  const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
  return `${what}${where}: ${first}; fix the YAML`;
}

/** 1-based line of a character offset; offsets asked in increasing order cost one pass over the text. */
function lineCounter(text: string): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset) => {
    if (offset < at) [at, line] = [0, 1];
    for (; at < offset && at < text.length; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}
