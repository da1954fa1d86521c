import { describe, expect, it } from 'vitest';
import { NatsProcess } from './nats-process.js';
import { makeEvent, take } from './helpers.js';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { NatsChangeBus } from '../src/index.js';
import { changeBusContract } from './change-bus.contract.js';

const url = process.env.ARMILLARIA_NATS_URL;
let n = 0;

describe.skipIf(!url)('NatsChangeBus on nats-server', () => {
  changeBusContract('nats jetstream', async () => {
    const stream = `CHG_TEST_${process.pid}_${++n}_${Date.now()}`;
    const prefix = `armtest${process.pid}x${n}`;
    const open = () => NatsChangeBus.connect({ servers: url!, stream, subjectPrefix: prefix, batch: 100 });
    const bus = await open();
    return {
      bus,
      reopen: open,
      async bufferedByFollower() {
        // What the server has handed to the (only) consumer on this stream but the reader has not taken.
        const nc = await connect({ servers: url! });
        try {
          const jsm = await jetstreamManager(nc);
          let delivered = 0;
          for await (const ci of jsm.consumers.list(stream)) delivered = Math.max(delivered, ci.delivered.stream_seq);
          return delivered - 1;
        } finally {
          await nc.close();
        }
      },
      async cleanup() {
        const nc = await connect({ servers: url! });
        try {
          await (await jetstreamManager(nc)).streams.delete(stream);
        } finally {
          await nc.close();
        }
      },
    };
  });
});

describe.skipIf(!url)('NatsChangeBus across a nats-server restart', () => {
  it('a follower that has seen nothing yet keeps following after the server restarts; publishing meanwhile fails typed', async () => {
    const nats = await NatsProcess.start();
    const bus = await NatsChangeBus.connect({ servers: nats.url, publishTimeoutMs: 1_000 });
    try {
      const it = bus.follow({ repo: 'r', branch: 'main' })[Symbol.asyncIterator]();
      const first = it.next();
      await new Promise((r) => setTimeout(r, 200));
      await nats.stop();
      await expect(bus.publish([makeEvent()])).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
      await nats.startAgain();
      const e = makeEvent();
      for (let i = 0; ; i++) {
        try {
          await bus.publish([e]);
          break;
        } catch (err) {
          if (i > 50) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      const got = await Promise.race([first, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('follower did not recover')), 30_000))]);
      expect(got.value?.event.commit).toBe(e.commit);
      await it.return?.();
      expect((await take(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 }), 1))[0]!.event.commit).toBe(e.commit);
    } finally {
      await bus.close();
      await nats.destroy();
    }
  }, 90_000);

  it('following a stream that was deleted fails with BACKEND_UNAVAILABLE instead of retrying forever', async () => {
    const stream = `CHG_GONE_${process.pid}_${Date.now()}`;
    const bus = await NatsChangeBus.connect({ servers: url!, stream, subjectPrefix: `armgone${process.pid}` });
    try {
      const nc = await connect({ servers: url! });
      await (await jetstreamManager(nc)).streams.delete(stream);
      await nc.close();
      await expect(bus.follow({ repo: 'r', branch: 'main' }, { afterBusSeq: 0 })[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
    } finally {
      await bus.close();
    }
  });
});
