import { configWithoutCloudSupport } from '@n8n/node-cli/eslint';

// n8n's community-node rules are for code that n8n loads (nodes/, credentials/, lib/).
// The simulator, tests, benchmarks and scripts are tools around the package: they spawn
// processes, print and hold test keys, so only the general TypeScript rules apply there.
const n8nRules = [
	...new Set(
		configWithoutCloudSupport.flatMap((c) =>
			Object.keys(c.rules ?? {}).filter(
				(r) => r.startsWith('@n8n/community-nodes/') || r.startsWith('n8n-nodes-base/'),
			),
		),
	),
];

export default [
	...configWithoutCloudSupport,
	{ ignores: ['node_modules/**', 'dist/**', 'coverage/**'] },
	{
		files: ['package.json'],
		rules: {
			// Decided on purpose (see README, "Runtime dependencies"): zod, p-retry and the Redis and
			// Postgres clients are needed at run time, which is why the non-cloud rule set is used.
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
		},
	},
	{
		// Framework-free shared logic throws plain errors; the nodes wrap them in NodeOperationError with the item index.
		files: ['lib/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
	{
		files: ['simulator/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**'],
		rules: {
			'no-console': 'off',
			...Object.fromEntries(n8nRules.map((r) => [r, 'off'])),
		},
	},
];
