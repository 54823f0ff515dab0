// The webhook always passes its own pino logger; Probot's pretty-printing transport is not needed.
const pino = require('pino');

exports.getLog = (options = {}) => pino({ level: options.level || 'info' });
