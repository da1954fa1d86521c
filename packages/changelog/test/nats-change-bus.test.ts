import { describe } from 'vitest';
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
