import { loginAttemptsSuite } from './login-attempts.suite.js';
import { LoginBackoff } from './token-bucket.js';

loginAttemptsSuite('this process (LoginBackoff)', async () => ({ attempts: new LoginBackoff(2, 300, 1000), cleanup: async () => {} }));
