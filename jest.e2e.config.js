// The end-to-end suite: the whole stack (serverless offline, Prism, the fake GitHub), one file at a time.
const { jest: base } = require('./package.json');

module.exports = {
  ...base,
  testMatch: ['**/test/e2e/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  collectCoverage: false,
  coverageThreshold: undefined,
};
