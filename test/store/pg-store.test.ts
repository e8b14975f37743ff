import { openTestPgStore } from '../helpers/pg.ts';
import { storeConformance } from './store-conformance.ts';

storeConformance('postgres', { open: () => openTestPgStore() });
