/**
 * YAML text → raw documents (plain JS values, mappings as `Map`) with where they came from.
 * Syntax errors become violations with line and column; empty documents are skipped.
 */
import { type Document, parseAllDocuments } from 'yaml';
import type { Violation } from '../errors.ts';
import type { Source } from './types.ts';

export interface ConfigFile {
  /** Path relative to the config directory, with `/` separators. */
  file: string;
  text: string;
  /**
   * The bytes `text` was decoded from (UTF-8), when read from disk: two reads of a large config
   * are compared byte for byte far faster than as strings (sameFileContent).
   */
  bytes?: Buffer;
}

/**
 * A file read from disk: `text` is decoded from `bytes` when first asked for, so a read that is
 * only compared with another (the stable-read check, an unchanged file) is never decoded.
 */
export function configFileFromBytes(file: string, bytes: Buffer): ConfigFile {
  let text: string | undefined;
  return {
    file,
    bytes,
    get text() {
      return (text ??= bytes.toString('utf8'));
    },
  };
}

/** Same content: byte for byte when both were read from disk, else as text. */
export function sameFileContent(a: ConfigFile, b: ConfigFile): boolean {
  return a.bytes && b.bytes ? a.bytes.equals(b.bytes) : a.text === b.text;
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

/** One YAML document of a text, every one counted (empty ones too), as parseDocuments reads them. */
export interface YamlDocument {
  doc: Document.Parsed;
  /** The document as plain values (mappings as `Map`s); undefined when it has errors or `failure`. */
  value: unknown;
  /** Why it could not be turned into values (too many aliases, say). */
  failure: string | undefined;
  /** No content and no problem: skipped, but it keeps its place in the document count. */
  empty: boolean;
  /** Where its content starts in the text (what its `file:line` name points at). */
  offset: number;
}

/** Every YAML document of `text`, parsed with the settings of every config file. */
export function yamlDocuments(text: string): YamlDocument[] {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true });
  return (Array.isArray(docs) ? docs : []).map((doc) => {
    const offset = doc.contents?.range?.[0] ?? doc.range[0];
    if (doc.errors.length > 0) return { doc, value: undefined, failure: undefined, empty: false, offset };
    try {
      const value = doc.toJS({ mapAsMap: true, maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
      return { doc, value, failure: undefined, empty: value === null || value === undefined, offset };
    } catch (err) {
      return { doc, value: undefined, failure: err instanceof Error ? err.message : String(err), empty: false, offset };
    }
  });
}

export function parseDocuments(files: readonly ConfigFile[]): ParsedDocuments {
  const documents: RawDocument[] = [];
  const violations: Violation[] = [];
  for (const { file, text } of files) {
    const list = yamlDocuments(text);
    const multi = list.filter((d) => !d.empty).length > 1;
    const lineOf = lineCounter(text);
    list.forEach((d, index) => {
      const where = multi ? `${file}:${lineOf(d.offset)}` : file;
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
      if (d.empty) return;
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
export function lineCounter(text: string): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset) => {
    if (offset < at) [at, line] = [0, 1];
    for (; at < offset && at < text.length; at++) if (text.charCodeAt(at) === 10) line++;
    return line;
  };
}
