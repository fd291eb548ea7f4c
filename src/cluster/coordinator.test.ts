// The single instance's coordinator: every claim is "solo", and it passes the fleet's conformance suite.
import { coordinatorSuite } from './coordinator.suite.js';
import { SoloCoordinator } from './coordinator.js';

coordinatorSuite('solo (one instance)', async () => ({ join: async () => new SoloCoordinator(), leaseTtlMs: 500, cleanup: async () => {} }));
