// The CLI on a terminal: `plast train` under a pseudo-terminal (util-linux `script`), Ctrl-C
// typed into it, and what the terminal then shows — the output replayed through a small screen
// model (carriage return, line feed, cursor column, erase, cursor save/restore) — is read line by
// line: the interrupt message and the summary after it each stand on a line of their own, not
// overwritten by the progress bar's redraws or its cursor restore. Skipped without `script`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ASSETS, ROOT } from '../helpers';

const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'plast-tty-'));
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** What a terminal shows after `raw`: its lines, trailing blanks trimmed. */
export function screen(raw: string): string[] {
  const rows: string[][] = [[]];
  let r = 0;
  let c = 0;
  let saved: [number, number] = [0, 0];
  const row = (): string[] => (rows[r] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\r') c = 0;
    else if (ch === '\n') r++;
    else if (ch === '\x1b') {
      const csi = /^\x1b\[(\??)(\d*)([A-Za-z])/.exec(raw.slice(i, i + 16));
      if (csi) {
        const n = csi[2] === '' ? 1 : Number(csi[2]);
        const op = csi[3]!;
        if (csi[1] === '') {
          if (op === 'G') c = n - 1;
          else if (op === 'K') row().length = Math.min(row().length, c);
          else if (op === 'A') r = Math.max(0, r - n);
          else if (op === 'B') r += n;
          else if (op === 'C') c += n;
          else if (op === 'D') c = Math.max(0, c - n);
        }
        i += csi[0].length - 1;
      } else if (raw[i + 1] === '7') {
        saved = [r, c];
        i++;
      } else if (raw[i + 1] === '8') {
        [r, c] = saved;
        i++;
      }
    } else {
      const line = row();
      while (line.length < c) line.push(' ');
      line[c++] = ch;
    }
  }
  return Array.from({ length: rows.length }, (_, i) => (rows[i] ?? []).join('').trimEnd());
}

test('the screen model: redraws in place, erase, cursor restore', () => {
  // A bar redrawn in place, then the cursor restored to above it: the next text overwrites the bar.
  assert.equal(screen('abc\x1b7\r\n\x1b[1Gbar 1\x1b[0K\x1b[1Gbar 22\x1b[0K\x1b8\r\nxy'), ['abc', 'xyr 22']);
  assert.equal(screen('one\r\ntwo\rT'), ['one', 'Two']);
});

test('plast train on a terminal: Ctrl-C stops the bar, then the message and the summary print on lines of their own', async () => {
  if (!hasScript) {
    console.log('  SKIP: no `script` (util-linux) to run the CLI under a pseudo-terminal');
    return;
  }
  const out = join(tmp, 'run');
  const cmd = [process.execPath, CLI, 'train', '--model', join(ASSETS, 'mini-ml'), '--data', join(ASSETS, 'data', 'xquad_questions_train.jsonl'),
    '--langs', 'ar,zh', '--limit', '200', '--batch', '4', '--layers', '7', '--backend', 'cpu', '--out', out].map((a) => `'${a}'`).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, COLUMNS: '160' };
  delete env.PLAST_NO_PROGRESS;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout.on('data', (d: Buffer) => (raw += d.toString()));
  child.stderr.on('data', (d: Buffer) => (raw += d.toString()));
  // Ctrl-C as typed on the terminal, once a few steps have drawn the bar.
  const log = join(out, 'train.jsonl');
  const timer = setInterval(() => {
    if (existsSync(log) && (readFileSync(log, 'utf8').match(/"type":"step"/g) ?? []).length >= 3) {
      clearInterval(timer);
      child.stdin.write('\x03');
    }
  }, 50);
  const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  clearInterval(timer);
  assert.is(code, 130, raw);
  const lines = screen(raw);
  const shown = lines.join('\n');
  assert.ok(lines.some((l) => /^train \[.*\] \d+\/100 steps/.test(l)), `a progress bar was drawn:\n${shown}`);
  // The ETA reads "-" until there is a rate (cli-progress's own shows "NFs").
  assert.match(raw, /train \[-+\] 0\/100 steps \| 0% \| ETA - \|/);
  assert.not.match(raw, /NFs/);
  assert.ok(lines.includes('interrupted: stopping at the next safe point (Ctrl-C again to quit now)'), shown);
  assert.ok(lines.some((l) => /^stopped at step \d+\/100 \(warmup 3, 50 steps\/epoch\) in [\d.]+ s, \d+ tok\/s$/.test(l)), shown);
  assert.ok(lines.includes(`no export; continue with: plast train --resume ${out}`), shown);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
