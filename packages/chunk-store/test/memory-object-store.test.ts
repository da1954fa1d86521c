import { MemoryObjectStore } from '../src/index.js';
import { objectStoreContract } from './object-store.contract.js';

objectStoreContract('memory', async () => ({ store: new MemoryObjectStore(), cleanup: async () => {} }));
