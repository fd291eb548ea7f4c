import pino from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs. Credentials and tokens are never logged: authorization headers, cookies and
 * any field named password/token/secret are redacted wherever they appear.
 */
export function createLogger(level: string = 'info', destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'regway' },
    redact: {
      paths: [
        'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'res.headers["set-cookie"]',
        '*.password', '*.token', '*.secret', 'password', 'token', 'secret', 'auth.password', 'credentials',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, destination);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
