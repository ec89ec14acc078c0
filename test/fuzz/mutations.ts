/**
 * Breaking generated meshes on purpose, at two levels:
 *
 * - structure (`mutatedDocsArb`): drop, duplicate or retype a field anywhere, put random scalars,
 *   unknown fields, huge strings/numbers/lists, deep nesting and unicode (control characters,
 *   lone surrogates, RTL and zero-width marks) in its place, drop or duplicate whole documents;
 * - text (`damagedFilesArb`): YAML syntax damage on the rendered files (stray indicators, tabs,
 *   truncation, duplicated lines and keys, anchors, aliases, tags, an alias bomb, binary noise).
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { chance, count, type Doc, draw, meshDocsArb, pick, rnd } from './arbitraries.ts';

type Gen = fc.GeneratorValue;
export interface ConfigFile {
  file: string;
  text: string;
}


/** Documents -> 1..3 YAML files (multi-document where several land in one). */
export function renderFiles(g: Gen, docs: readonly unknown[]): ConfigFile[] {
  const files = count(g, 1, 3);
  const texts: string[][] = Array.from({ length: files }, () => []);
  for (const d of docs) texts[rnd(g) % files]!.push(stringify(d, { lineWidth: 0, aliasDuplicateObjects: false }));
  return texts.filter((t) => t.length > 0).map((t, i) => ({ file: `dir${i % 2}/f${i}.${i === 1 ? 'yml' : 'yaml'}`, text: t.join('---\n') }));
}

/** A valid-looking mesh, rendered. */
export const meshFilesArb: fc.Arbitrary<ConfigFile[]> = fc.gen().map((g) => renderFiles(g, draw(g, meshDocsArb)));

const WEIRD_STRINGS = [
  '', ' ', '\u0000', 'a\u0000b', '\uD800', 'x\uDFFFy', '\u202Eevil', 'zero\u200Bwidth', '\uFEFFbom', 'tab\there', 'new\nline', 'ß', 'İ', '🙂',
  '*', '**', '*a*', '{*}', '${HOME}', '../..', '%00', '"', "'", '\\', 'null', 'true', '~', '0x10', '1e3', '08080', '-1', 'spiffe://x/ns/a/sa/b',
];
const HUGE_NUMBERS = [2 ** 53 + 1, 1e308, -1e308, -0, 65_536, 0, -1, 0.5, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE];

/** A random value of any YAML type, including the nasty ones. */
const randomValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...WEIRD_STRINGS),
  fc.constantFrom(...HUGE_NUMBERS),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.date({ noInvalidDate: true }),
  fc.constant([]),
  fc.constant({}),
  fc.constant('x'.repeat(100_000)),
  fc.constant(Array.from({ length: 2000 }, (_, i) => ({ n: i }))),
  fc.constant(JSON.parse(`${'['.repeat(200)}1${']'.repeat(200)}`) as unknown),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
);

/** A copy: fc.constant hands out one shared instance, which later mutations would grow run after run. */
const freshValue = (g: Gen): unknown => structuredClone(draw(g, randomValue));

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number };

/** Every (container, key) slot in a document tree. */
function slots(value: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(value)) value.forEach((v, i) => (out.push({ parent: value, key: i }), slots(v, out)));
  else if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) out.push({ parent: value as Record<string, unknown>, key: k }), slots(v, out);
  }
  return out;
}

function mutateDoc(g: Gen, root: Doc): void {
  const all = slots(root);
  if (all.length === 0) return;
  const { parent, key } = pick(g, all);
  const get = () => (parent as Record<string | number, unknown>)[key];
  const set = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
  switch (pick(g, ['drop', 'duplicate', 'retype', 'retype', 'unknown', 'unicode', 'huge', 'nest'] as const)) {
    case 'drop':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.push(structuredClone(get()));
      else if (Array.isArray(get())) (get() as unknown[]).push(structuredClone((get() as unknown[])[0] ?? null));
      else parent[`${String(key)}${pick(g, ['', ' ', 'X'])}`] = structuredClone(get());
      break;
    case 'retype':
      set(freshValue(g));
      break;
    case 'unknown': {
      const target = get() && typeof get() === 'object' && !Array.isArray(get()) ? (get() as Record<string, unknown>) : Array.isArray(parent) ? undefined : parent;
      const name = pick(g, ['listenport', 'namespce', 'protocol', 'status', 'uid', 'matchExpressions', 'serviceAccounts', 'requestPrincipals', 'provider', 'x', '8080', '__proto__', 'constructor']);
      if (target) Object.defineProperty(target, name, { value: freshValue(g), enumerable: true, configurable: true, writable: true });
      break;
    }
    case 'unicode':
      set(typeof get() === 'string' ? `${String(get())}${pick(g, WEIRD_STRINGS)}` : pick(g, WEIRD_STRINGS));
      break;
    case 'huge':
      set(pick(g, ['y'.repeat(70_000), ...HUGE_NUMBERS, Array.from({ length: 3000 }, () => structuredClone(get()))]));
      break;
    case 'nest':
      set({ [String(key)]: get() });
      break;
  }
}

/** A valid-looking mesh with 1..3 structural mutations, rendered. */
export const mutatedFilesArb: fc.Arbitrary<ConfigFile[]> = fc.gen().map((g) => {
    const out: unknown[] = structuredClone(draw(g, meshDocsArb));
    for (let i = 0, n = count(g, 1, 3); i < n; i++) {
      const what = rnd(g) % 10;
      if (what === 0 && out.length > 1) out.splice(rnd(g) % out.length, 1);
      else if (what === 1) out.push(structuredClone(pick(g, out)));
      else if (what === 2) out.push(freshValue(g));
      else mutateDoc(g, pick(g, out.filter((d): d is Doc => !!d && typeof d === 'object' && !Array.isArray(d))) ?? {});
    }
    return renderFiles(g, out);
});

const BINARY = fc.string({ unit: 'binary', maxLength: 30 });
const ALIAS_BOMB = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
const SNIPPETS = [':', ': ', '- ', '[', ']', '{', '}', '&x ', '*x', '*undefined_alias', '!!binary ', '!!int ', '!foo ', '<<: *x\n', '? ', '|', '>-', '#', '%YAML 1.1\n', '---\n', '...\n', '\t', '"', "'", '`', '@', '\uFEFF', '\u0000', '\r', '\\u', ' &a [*a]', `\n${ALIAS_BOMB}\n`];

/** Text-level YAML damage on a rendered valid mesh. */
export const damagedFilesArb: fc.Arbitrary<ConfigFile[]> = fc.gen().map((g) =>
    draw(g, meshFilesArb).map((f) => {
      if (!chance(g, 67)) return f;
      let text = f.text;
      for (let i = 0, n = count(g, 1, 3); i < n; i++) {
        const at = rnd(g) % (text.length + 1);
        const lines = text.split('\n');
        const line = rnd(g) % lines.length;
        switch (rnd(g) % 7) {
          case 0: text = text.slice(0, at) + pick(g, SNIPPETS) + text.slice(at); break;
          case 1: text = text.slice(0, at) + text.slice(at + count(g, 1, 40)); break;
          case 2: text = text.slice(0, at); break;
          case 3: lines.splice(line, 0, lines[line]!); text = lines.join('\n'); break;
          case 4: lines[line] = (pick(g, ['', ' ', '  ', '\t', '    ']) + lines[line]!.trimStart()); text = lines.join('\n'); break;
          case 5: text = text.slice(0, at) + draw(g, BINARY) + text.slice(at); break;
          default: text = `${text}\n${pick(g, SNIPPETS)}${pick(g, WEIRD_STRINGS)}`;
        }
      }
      return { file: f.file, text };
    }),
);
