/** End-to-end tests: real n8n 2.41.1 (installed once into a cache folder) with the packed package. */
const base = require('./jest.config');

module.exports = {
	...base,
	testMatch: ['**/*.e2e.ts'],
	testTimeout: 600000,
	maxWorkers: 1,
};
