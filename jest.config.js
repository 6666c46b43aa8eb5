/** Tests run on Node 24 (the `node@24` devDependency is first on PATH in npm scripts). */
module.exports = {
	testEnvironment: '<rootDir>/test/setup/environment.js',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	setupFilesAfterEnv: ['<rootDir>/test/setup/stores.ts'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
	},
	testTimeout: 30000,
};
