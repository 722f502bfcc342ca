// The README's examples, run as written, from a directory laid out like the repository root (its
// bundled assets):
//   - every ```ts and ```js block of README.md is extracted (TypeScript transpiled, nothing else
//     changed) and run with node as a consumer of the package would — ES module blocks by
//     `import ... from 'plast-engine'`, CommonJS ones by require. The blocks are written inside
//     the package, so that the package resolves by its own name (package.json "exports");
//   - every `npx plast ...` line of a ```sh block runs, in order, as the built CLI (what npx runs
//     in the repository), except the full `plast run` of the demo (minutes; test/model/run.test.ts
//     runs it with small limits);
//   - every PLAST_* environment variable that the engine, its build or its tests read is in the
//     README.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import ts from 'typescript';
import { ROOT } from '../helpers';

export interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The fenced code blocks of a Markdown text. */
export function codeBlocks(md: string): Block[] {
  const out: Block[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ lang: open[1]!, code: body.join('\n') + '\n', line: start + 1 });
  }
  return out;
}

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const cwd = mkdtempSync(join(tmpdir(), 'plast-readme-'));
symlinkSync(join(ROOT, 'assets'), join(cwd, 'assets'));
const inPackage = join(ROOT, 'dist', 'test', 'readme-blocks');
mkdirSync(inPackage, { recursive: true });

const blocks = codeBlocks(README).filter((b) => ['ts', 'js'].includes(b.lang));

test('the README has library examples in both module systems', () => {
  assert.ok(blocks.some((b) => /from 'plast-engine'/.test(b.code)), 'an ES module example');
  assert.ok(blocks.some((b) => /require\('plast-engine'\)/.test(b.code)), 'a CommonJS example');
});

for (const b of blocks) {
  test(`README.md:${b.line} (${b.lang}) runs as written`, () => {
    const cjs = /\brequire\(/.test(b.code);
    const js = b.lang === 'ts' ? ts.transpileModule(b.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText : b.code;
    const file = join(inPackage, `block-${b.line}.${cjs ? 'cjs' : 'mjs'}`);
    writeFileSync(file, js);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', env: { ...process.env, PLAST_NO_PROGRESS: '1' } });
    console.log(`  README.md:${b.line}: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.is(r.status, 0, `README.md:${b.line}:\n${b.code}\n${r.stderr}`);
  });
}

/** The words of a command line (the README's commands use no quotes). */
const words = (line: string): string[] => line.replace(/\s#.*$/, '').trim().split(/\s+/);

const commands = codeBlocks(README)
  .filter((b) => b.lang === 'sh')
  .flatMap((b) => b.code.split('\n').map((l, i) => ({ line: b.line + 1 + i, args: words(l) })))
  .filter((c) => c.args[0] === 'npx' && c.args[1] === 'plast')
  .map((c) => ({ ...c, args: c.args.slice(2) }));
const MINUTES = new Set(['run']);

test('the README\'s plast commands include the steps on the bundled data', () => {
  for (const cmd of ['info', 'profile', 'select', 'train', 'eval', 'generate']) assert.ok(commands.some((c) => c.args[0] === cmd), cmd);
});

for (const c of commands) {
  test(`README.md:${c.line}: plast ${c.args.join(' ')}`, () => {
    if (MINUTES.has(c.args.join(' '))) {
      console.log(`  SKIP README.md:${c.line} (plast ${c.args.join(' ')}: minutes; run.test.ts runs it with small limits)`);
      return;
    }
    const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli', 'main.js'), ...c.args], { cwd, encoding: 'utf8', env: { ...process.env, PLAST_NO_PROGRESS: '1' } });
    assert.is(r.status, 0, `README.md:${c.line}: plast ${c.args.join(' ')}\n${r.stderr}`);
  });
}

/** Every PLAST_* variable read (process.env in TypeScript and JavaScript, getenv in C++). */
function variablesRead(): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'fixtures') walk(rel);
      } else if (/\.(ts|js|cc|cu|h|cuh)$/.test(e.name) && !e.name.endsWith('.d.ts')) {
        const text = readFileSync(join(ROOT, rel), 'utf8');
        for (const m of text.matchAll(/process\.env(?:\.|\[')(PLAST_[A-Z0-9_]+)|getenv\("(PLAST_[A-Z0-9_]+)"\)/g)) found.set((m[1] ?? m[2])!, rel);
      }
    }
  };
  for (const d of ['src', 'scripts', 'native/src', 'native/tests', 'test']) walk(d);
  return found;
}

test('every PLAST_* environment variable read is documented in the README', () => {
  const read = variablesRead();
  assert.ok(read.has('PLAST_BACKEND') && read.has('PLAST_THREADS') && read.has('PLAST_CUDA'), [...read.keys()].join(', '));
  const missing = [...read].filter(([v]) => !new RegExp(`\`${v}[\`=]`).test(README)).map(([v, f]) => `${v} (${f})`);
  assert.equal(missing, [], `not in README.md: ${missing.join(', ')}`);
});

test.after(() => {
  rmSync(cwd, { recursive: true, force: true });
  rmSync(inPackage, { recursive: true, force: true });
});

test.run();
