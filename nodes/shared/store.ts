import {
	NodeOperationError,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeProperties,
} from 'n8n-workflow';

import {
	getStore,
	postgresConfigFromCredentials,
	redisConfigFromCredentials,
	type StateStore,
	type StoreKind,
} from '../../lib/stores';

/** The "Store" parameters every stateful node shows; `what` says what the store keeps. */
export function storeProperties(what: string, note = ''): INodeProperties[] {
	return [
		{
			displayName: 'Store',
			name: 'store',
			type: 'options',
			noDataExpression: true,
			options: [
				{
					name: 'Local File (SQLite)',
					value: 'local',
					description:
						'A file in the n8n user folder: shared by the n8n processes of one host, kept across restarts',
				},
				{
					name: 'Memory (This Process Only)',
					value: 'memory',
					description: 'Lost on restart and not shared: for tests and single-process runs',
				},
				{
					name: 'Postgres',
					value: 'postgres',
					description:
						'A table in your Postgres database, for queue mode with workers on many hosts',
				},
				{
					name: 'Redis',
					value: 'redis',
					description: 'Your Redis, for queue mode with workers on many hosts',
				},
			],
			default: 'local',
			description: `Where ${what} live.${note ? ` ${note}` : ''}`,
		},
		{
			displayName: 'SQLite File',
			name: 'sqlitePath',
			type: 'string',
			default: '',
			placeholder: '~/.n8n/ai-patterns.sqlite',
			description:
				'Path of the database file. Empty: ai-patterns.sqlite in the n8n user folder (.n8n). Use a local disk, not a network share.',
			displayOptions: { show: { store: ['local'] } },
		},
	];
}

/** n8n's built-in Redis and Postgres credentials, shown for those stores. */
export const storeCredentials: INodeCredentialDescription[] = [
	{ name: 'redis', required: true, displayOptions: { show: { store: ['redis'] } } },
	{ name: 'postgres', required: true, displayOptions: { show: { store: ['postgres'] } } },
];

/** The shared store for the node's settings (pooled across executions by the registry). */
export async function openStore(ctx: IExecuteFunctions): Promise<StateStore> {
	const kind = ctx.getNodeParameter('store', 0) as StoreKind;
	const credentials =
		kind === 'redis' || kind === 'postgres' ? await ctx.getCredentials(kind) : undefined;
	try {
		if (kind === 'redis') return getStore(redisConfigFromCredentials(credentials!));
		if (kind === 'postgres') return getStore(postgresConfigFromCredentials(credentials!));
		if (kind === 'local')
			return getStore({ kind, path: String(ctx.getNodeParameter('sqlitePath', 0, '') ?? '') });
		return getStore({ kind: 'memory' });
	} catch (error) {
		throw new NodeOperationError(ctx.getNode(), `Store: ${(error as Error).message}`);
	}
}
