import { mkdtemp, rm, readFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode, isArmillariaError } from '@armillaria/core';
import { EmbeddedChangeBus } from '../src/index.js';
import { changeBusContract } from './change-bus.contract.js';
import { makeEvent, take } from './helpers.js';

changeBusContract('embedded (fs log)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'armillaria-bus-'));
  return {
    bus: await EmbeddedChangeBus.open({ dir }),
    reopen: () => EmbeddedChangeBus.open({ dir }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('EmbeddedChangeBus log', () => {
  it('drops a torn last line left by a crash and keeps appending after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-bus-'));
    try {
      const bus = await EmbeddedChangeBus.open({ dir });
      const events = [makeEvent(), makeEvent()];
      await bus.publish(events);
      await bus.close();
      await appendFile(join(dir, 'changes.jsonl'), '{"s":3,"e":{"v":1,"repo":"r","bra');
      const again = await EmbeddedChangeBus.open({ dir });
      expect(await again.lastSeq()).toBe(2);
      await again.publish([makeEvent()]);
      await again.close();
      const lines = (await readFile(join(dir, 'changes.jsonl'), 'utf8')).trimEnd().split('\n');
      expect(lines.map((l) => JSON.parse(l).s)).toEqual([1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a corrupt log with CORRUPT_METADATA instead of guessing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'armillaria-bus-'));
    try {
      await appendFile(join(dir, 'changes.jsonl'), 'not json\n');
      await expect(EmbeddedChangeBus.open({ dir })).rejects.toSatisfy((e) => isArmillariaError(e, ErrorCode.CorruptMetadata));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('works in memory without a directory', async () => {
    const bus = await EmbeddedChangeBus.open();
    await bus.publish([makeEvent(), makeEvent()]);
    expect((await take(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 }), 2)).length).toBe(2);
    await bus.close();
  });
});
