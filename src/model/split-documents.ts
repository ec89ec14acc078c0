/**
 * A multi-document YAML file cut into one piece per document, so that a file that changed can be
 * parsed again piece by piece, reusing the pieces whose text did not change (model-parser.ts):
 * a config of thousands of documents in one file is otherwise parsed whole for a one-line edit.
 *
 * The cut is at every line that starts with `---` followed by a space, a tab or the line end. In
 * YAML 1.2 such a line always starts a new document, whatever came before it: no scalar or
 * collection may contain one (spec 9.1.4, c-forbidden), so a piece never ends mid-value, and
 * YAML carries nothing from one document to the next but directives. A text that has directives
 * (a line starting with `%`) or document end markers (`...`), after which a document may start
 * without `---`, is not cut (undefined): it is parsed whole, as it always was.
 */
export interface DocumentPiece {
  /** The piece: from the start of its `---` line (the file's start for the first) to the next one. */
  text: string;
  /** Lines of the file before the piece (0 for the first). */
  line: number;
}

export function splitDocuments(text: string): DocumentPiece[] | undefined {
  const pieces: DocumentPiece[] = [];
  let start = 0;
  let startLine = 0;
  let line = 0;
  for (let at = 0; at < text.length; line++) {
    const c = text.charCodeAt(at);
    if (c === PERCENT || (c === DOT && marker(text, at, '...'))) return undefined;
    if (c === DASH && at > 0 && marker(text, at, '---')) {
      pieces.push({ text: text.slice(start, at), line: startLine });
      start = at;
      startLine = line;
    }
    const end = text.indexOf('\n', at);
    if (end < 0) break;
    at = end + 1;
  }
  pieces.push({ text: text.slice(start), line: startLine });
  return pieces;
}

const PERCENT = 0x25;
const DOT = 0x2e;
const DASH = 0x2d;

/** `---` or `...` at `at`, followed by a space, tab, line end or the end of the text. */
function marker(text: string, at: number, what: string): boolean {
  if (!text.startsWith(what, at)) return false;
  const next = text.charCodeAt(at + 3);
  return Number.isNaN(next) || next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0d;
}
