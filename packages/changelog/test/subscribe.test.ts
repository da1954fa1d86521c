import { describe } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EmbeddedChangeBus, NatsChangeBus } from '../src/index.js';
import { subscribeSuite } from './subscribe.suite.js';

subscribeSuite('the embedded bus', async () => ({ bus: await EmbeddedChangeBus.open(), cleanup: async () => undefined }));

const url = process.env.ARMILLARIA_NATS_URL;
let n = 0;
describe.skipIf(!url)('on nats-server', () => {
  subscribeSuite('NATS JetStream', async () => {
    const stream = `CHG_SUB_${process.pid}_${++n}_${Date.now()}`;
    const bus = await NatsChangeBus.connect({ servers: url!, stream, subjectPrefix: `armsub${process.pid}x${n}` });
    return {
      bus,
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
