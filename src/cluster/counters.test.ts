import { counterStoreSuite } from './counters.suite.js';
import { MemoryCounterStore } from './counters.js';

counterStoreSuite('memory', async () => ({ store: new MemoryCounterStore(), cleanup: async () => {} }));
