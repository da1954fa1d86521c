import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isArmillariaError } from '@armillaria/core';
import { spawnNode, stopSpawned, tempDir } from '../src/index.js';

const dir = tempDir('spawn');
afterAll(async () => {
  await stopSpawned();
  await dir.cleanup();
});

function script(name: string, body: string): string {
  const path = join(dir.path, name);
  writeFileSync(path, body);
  return path;
}

describe('spawnNode', () => {
  it('runs a script with extra env and captures stdout and stderr', async () => {
    const p = spawnNode(script('echo.mjs', 'console.log("out:" + process.env.GREETING); console.error("err:" + process.argv[2]);'), {
      env: { GREETING: 'hello' },
      args: ['arg1'],
    });
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.stdout()).toBe('out:hello\n');
    expect(p.stderr()).toBe('err:arg1\n');
  });

  it('inherits the service env vars and can remove a variable', async () => {
    process.env.ARMILLARIA_KIT_PROBE = 'inherited';
    const p = spawnNode(script('env.mjs', 'console.log(JSON.stringify([process.env.ARMILLARIA_KIT_PROBE ?? null, process.env.HOME ?? null]))'), {
      env: { HOME: undefined },
    });
    await p.exited;
    delete process.env.ARMILLARIA_KIT_PROBE;
    expect(JSON.parse(p.stdout())).toEqual(['inherited', null]);
  });

  it('waits for output of a long-running process, then stops it with SIGTERM', async () => {
    const p = spawnNode(script('server.mjs', 'console.log("listening on " + 4242); setInterval(() => {}, 1000);'));
    expect(await p.waitForOutput(/listening on \d+/)).toBe('listening on 4242');
    expect(await p.stop()).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('reports a crash: kill -9 and the exit code of a failing script', async () => {
    const hang = spawnNode(script('hang.mjs', 'console.log("up"); setInterval(() => {}, 1000);'));
    await hang.waitForOutput('up');
    hang.kill('SIGKILL');
    expect((await hang.exited).signal).toBe('SIGKILL');
    const fail = spawnNode(script('fail.mjs', 'console.error("bad thing"); process.exit(3);'));
    expect((await fail.exited).code).toBe(3);
  });

  it('rejects waitForOutput with INTERNAL and the output when the process exits first', async () => {
    const p = spawnNode(script('early.mjs', 'console.log("something else")'));
    const err = await p.waitForOutput('never printed').catch((e: unknown) => e);
    expect(isArmillariaError(err, 'INTERNAL')).toBe(true);
    expect((err as Error).message).toContain('something else');
  });

  it('runs TypeScript entry points with workspace packages resolved to their sources', async () => {
    const p = spawnNode(fileURLToPath(new URL('./fixtures/print-canonical.ts', import.meta.url)));
    const exit = await p.exited;
    expect(p.stderr()).toBe('');
    expect(exit.code).toBe(0);
    expect(p.stdout().trim()).toBe('{"a":2,"b":1}');
  });
});
