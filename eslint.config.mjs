import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

// We ship runtime dependencies (zod, p-retry, database clients), so the rule set without
// n8n Cloud restrictions applies. Tools that are not part of the n8n runtime may print.
export default [
	...configWithoutCloudSupport,
	{ ignores: ['node_modules/**', 'dist/**', 'coverage/**'] },
	{
		files: ['simulator/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**'],
		rules: { 'no-console': 'off' },
	},
];
