// The tests' one wait-until helper; it lives beside the unit tests (src/testing) so both use one.
export { waitFor, type WaitOptions } from '../../src/testing/wait.js';
