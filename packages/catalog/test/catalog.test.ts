import { catalogContract } from './catalog.contract.js';
import { embeddedCatalog } from './catalog-helpers.js';

catalogContract('embedded (memory objects, fs refs)', async () => embeddedCatalog());
