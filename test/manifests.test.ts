import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp.ts';

/** scripts/check-manifests.mjs, the manifest step of `npm test`, on this repository and on small fixtures. */
const root = join(import.meta.dirname, '..');
const check = (dir: string) =>
  spawnSync('node', [join(root, 'scripts/check-manifests.mjs'), dir], { encoding: 'utf8' });

let fixture: ReturnType<typeof tempDir> | undefined;
afterEach(() => fixture?.cleanup());

/** A workspace of one package `w` whose src/main.ts is `code`, with the manifests given. */
function workspace(code: string, pkg: object, rootDev: Record<string, string> = {}) {
  fixture = tempDir('citytel-manifests-');
  const d = fixture.dir;
  const json = (file: string, v: object) => writeFileSync(file, JSON.stringify(v));
  json(join(d, 'package.json'), { name: 'fixture', workspaces: ['w'], devDependencies: rootDev });
  mkdirSync(join(d, 'w/src'), { recursive: true });
  mkdirSync(join(d, 'deploy'));
  json(join(d, 'w/package.json'), { name: '@fixture/w', ...pkg });
  writeFileSync(join(d, 'w/src/main.ts'), code);
  return d;
}

describe('the manifest check', () => {
  it('passes on this repository', () => {
    const r = check(root);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails on an undeclared import, naming the file and the package', () => {
    const r = check(workspace("import { z } from 'zod';\nimport 'node:fs';\n", { dependencies: {} }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('w/src/main.ts: imports zod, not declared in w/package.json');
  });

  it('fails on a declared dependency nothing imports', () => {
    const r = check(
      workspace("import pino from 'pino';\n", { dependencies: { pino: '1', 'left-pad': '1' } }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')[0]).toBe(
      'w/package.json: declares left-pad, which nothing in w/ imports',
    );
  });

  it('fails on a run-time import declared only for development, pino transports included', () => {
    // quotes escaped, so that this file itself does not name a transport to the check
    const code =
      'const t = { transport: { target: \u0027pino-pretty\u0027 } };\nawait import(\u0027ioredis\u0027);\n';
    const r = check(
      workspace(code, { dependencies: {}, devDependencies: { ioredis: '1' } }, { 'pino-pretty': '1' }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'w/src/main.ts: imports ioredis at run time, but w/package.json has it only as a dev dependency',
    );
    expect(r.stderr).toContain(
      'w/src/main.ts: imports pino-pretty at run time, but w/package.json has it only as a dev dependency',
    );
  });
});
