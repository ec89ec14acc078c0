/**
 * parseModelFiles for a config that is parsed again and again (every reload of a watched
 * directory): the same result, reusing what did not change since the last call.
 *
 * - A file whose text is unchanged keeps its resources (the very same objects).
 * - A changed file is cut into documents (split-documents.ts); a document whose text, position
 *   and line are unchanged keeps its resource, the others are parsed again. A file that cannot
 *   be cut safely, or whose pieces have YAML errors or warnings, is parsed whole, as before.
 * - The cross-document checks that AuthorizationPolicies play no part in are kept while none of
 *   the other resources changed (validate-references.ts validateTopology).
 *
 * Resources and model lists that did not change are the same objects as in the last result, so
 * later stages can tell what changed by identity (plan/proxy-planner.ts). Nothing here is state
 * of the config being served: a parse whose result is rejected only warms the memory.
 */
import type { Violation } from '../errors.ts';
import { assembleModel, parseDocument, parseModelFile, sortByName, sortFiles, type ModelResult, type ParsedFile, type SortByName } from './load-model.ts';
import { lineCounter, sameFileContent, yamlDocuments, type ConfigFile } from './parse-documents.ts';
import type { ParsedResource } from './parse-resource.ts';
import type { Metadata } from './types.ts';
import { splitDocuments } from './split-documents.ts';
import { PolicyChecks, validatePolicyReferences, validateTopology, type ResourceSet } from './validate-references.ts';

/** One piece of a cut file, parsed on its own. */
interface Piece {
  /** Its documents; undefined when it has YAML errors or warnings (the file is then parsed whole). */
  documents: PieceDocument[] | undefined;
}

interface PieceDocument {
  value: unknown;
  /** The 1-based line of the piece where the document's content starts. */
  lineInPiece: number;
  empty: boolean;
  /** The resource parsed from it the last time, where it was then. */
  parsed?: { file: string; index: number; resource: ParsedResource | undefined; violations: Violation[] };
}

interface FileEntry {
  /** What was parsed (its bytes too, when read from disk). */
  file: ConfigFile;
  parsed: ParsedFile;
  /** Piece text -> its parse; empty when the file was parsed whole. */
  pieces: Map<string, Piece>;
}

export class ModelParser {
  #files = new Map<string, FileEntry>();
  /** The last topology checked, its violations, and its policies' checks. */
  #topology: { inputs: readonly (readonly unknown[])[]; violations: Violation[]; policies: PolicyChecks } | undefined;
  readonly #sorted = new Map<string, { items: readonly { value: unknown }[]; sorted: unknown[] }>();
  /** Documents parsed (not reused) by the last call: for tests and benchmarks. */
  documentsParsed = 0;

  parse(files: readonly ConfigFile[]): ModelResult {
    this.documentsParsed = 0;
    const sorted = sortFiles(files);
    const next = new Map<string, FileEntry>();
    const parsed = sorted.map((file) => {
      const known = this.#files.get(file.file);
      // The newest read is kept: its bytes make the next comparison cheap.
      const entry = known && sameFileContent(known.file, file) ? { ...known, file } : this.#parseFile(file, known?.pieces);
      next.set(file.file, entry);
      return entry.parsed;
    });
    this.#files = next;
    return assembleModel(sorted, parsed, { validate: (set) => this.#validate(set), sortByName: this.#sortByName });
  }

  #parseFile(file: ConfigFile, known: ReadonlyMap<string, Piece> = new Map()): FileEntry {
    const pieces = new Map<string, Piece>();
    const documents: { doc: PieceDocument; line: number }[] = [];
    let whole = false;
    for (const piece of splitDocuments(file.text) ?? []) {
      const parsed = pieces.get(piece.text) ?? known.get(piece.text) ?? parsePiece(piece.text);
      if (!parsed.documents) {
        whole = true;
        break;
      }
      pieces.set(piece.text, parsed);
      for (const doc of parsed.documents) documents.push({ doc, line: piece.line + doc.lineInPiece });
    }
    if (whole || documents.length === 0) {
      // Not cut, empty, or a piece has YAML problems (whose messages give lines in the whole file).
      const parsed = parseModelFile(file);
      this.documentsParsed += parsed.resources.length;
      return { file, parsed, pieces: new Map() };
    }
    // As parseDocuments names them: `file:line` when the file has several non-empty documents.
    const multi = documents.filter((d) => !d.doc.empty).length > 1;
    const resources: ParsedResource[] = [];
    const violations: Violation[] = [];
    documents.forEach(({ doc, line }, index) => {
      if (doc.empty) return;
      const where = multi ? `${file.file}:${line}` : file.file;
      if (doc.parsed?.file !== where || doc.parsed.index !== index) {
        this.documentsParsed++;
        doc.parsed = { file: where, index, ...parseDocument({ file: where, source: { file: file.file, index }, value: doc.value }) };
      }
      violations.push(...doc.parsed.violations);
      if (doc.parsed.resource) resources.push(doc.parsed.resource);
    });
    return { file, parsed: { resources, violations }, pieces };
  }

  /** validateReferences, keeping the topology part while its inputs are the same objects. */
  #validate(set: ResourceSet): Violation[] {
    const inputs = [set.meshes, set.services, set.externalServices, set.workloads, set.peerAuthentications];
    if (!this.#topology || !inputs.every((list, i) => sameItems(list, this.#topology!.inputs[i]!))) {
      this.#topology = { inputs, violations: validateTopology(set), policies: new PolicyChecks(set) };
    }
    const { violations, policies } = this.#topology;
    policies.retain(set.authorizationPolicies);
    return [...violations, ...validatePolicyReferences(set, policies)];
  }

  /** sortByName, returning the last list of a kind when its resources are the same objects in the same order. */
  #sortByName: SortByName = <T extends { metadata: Metadata }>(kind: keyof ResourceSet, items: readonly { value: T }[]): T[] => {
    const last = this.#sorted.get(kind);
    if (last && sameItems(last.items, items)) return last.sorted as T[];
    const sorted = sortByName(kind, items);
    this.#sorted.set(kind, { items, sorted });
    return sorted;
  };
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** One piece as parseDocuments reads it inside the file; undefined documents when it has any YAML problem. */
function parsePiece(text: string): Piece {
  const list = yamlDocuments(text);
  if (list.some((d) => d.doc.errors.length > 0 || d.doc.warnings.length > 0 || d.failure !== undefined)) return { documents: undefined };
  const lineOf = lineCounter(text);
  return { documents: list.map((d) => ({ value: d.value, empty: d.empty, lineInPiece: lineOf(d.offset) })) };
}
