import { join } from 'node:path';
import { FsObjectStore, ObjectChunkStore, loadHasher } from '@armillaria/chunk-store';
import { Catalog, FsRefStore, ParquetTableFormat } from '@armillaria/catalog';
import { FsTxnLog, TxnCoordinator } from '@armillaria/txn-coordinator';
import { EmbeddedChangeBus, NatsChangeBus, type ChangeBus } from '../src/index.js';

export interface CoordinatorStack {
  catalog: Catalog;
  bus: ChangeBus;
  coordinator: TxnCoordinator;
  close(): Promise<void>;
}

/**
 * The coordinator publishing through a real ChangeBus, everything under `dir` (embedded mode); the
 * bus is NATS stream `stream` when given, else the embedded log in `<dir>/bus`.
 */
export async function openCoordinatorStack(dir: string, nats?: { url: string; stream: string; prefix: string }): Promise<CoordinatorStack> {
  const chunks = new ObjectChunkStore({ objects: new FsObjectStore({ root: join(dir, 'objects') }), hasher: await loadHasher() });
  const format = new ParquetTableFormat({ chunks });
  const refs = new FsRefStore({ root: join(dir, 'refs') });
  const catalog = new Catalog({ chunks, refs, format });
  const log = new FsTxnLog({ dir: join(dir, 'txn') });
  const bus: ChangeBus = nats
    ? await NatsChangeBus.connect({ servers: nats.url, stream: nats.stream, subjectPrefix: nats.prefix })
    : await EmbeddedChangeBus.open({ dir: join(dir, 'bus') });
  const coordinator = new TxnCoordinator({ catalog, tables: format, log, bus, recoveryIntervalMs: 0, staleAfterMs: 0 });
  return {
    catalog, bus, coordinator,
    close: async () => {
      await coordinator.close();
      await log.close();
      await bus.close();
      await catalog.close();
      await refs.close();
      await chunks.close();
    },
  };
}
