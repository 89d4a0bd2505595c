import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// In a process of its own: the change is to the process's module cache.
const run = (env: Record<string, string>) =>
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `
import { createRequire } from 'node:module';
import { quietDisabledDebug } from './store/src/quiet-debug.ts';
quietDisabledDebug();
const require = createRequire(import.meta.url);
const debug = require('debug');
const on = debug('mqtt-packet:parser');
const off = debug('mqtt-packet:writeToStream');
let printed = '';
on.log = (...args) => { printed += args.join(' '); };
on('parse x');
off('nothing');
process.stdout.write(JSON.stringify({
  on: on.enabled, off: off.enabled, offIsEmpty: off.toString().length < 40, printed: printed.includes('parse x'),
  extended: off.extend('sub').namespace, enable: typeof debug.enable, parserLoads: typeof require('mqtt-packet').parser,
}));
`,
      ],
      { cwd: `${import.meta.dirname}/../..`, env: { ...process.env, ...env } },
    ).toString(),
  );

describe('quiet disabled debug loggers', () => {
  it('gives enabled namespaces the real logger and the rest an empty function', () => {
    expect(run({ DEBUG: 'mqtt-packet:parser' })).toEqual({
      on: true,
      off: false,
      offIsEmpty: true,
      printed: true,
      extended: 'mqtt-packet:writeToStream:sub',
      enable: 'function',
      parserLoads: 'function',
    });
  });
});
