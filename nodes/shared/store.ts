import {
	NodeOperationError,
	type IDisplayOptions,
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

/**
 * The "Store" parameters every stateful node shows; `what` says what the store keeps. With
 * `showWhen`, one Store parameter per case (n8n's displayOptions cannot say "A or B"): give cases
 * that exclude each other, so that exactly one is shown whenever the store is used.
 */
export function storeProperties(
	what: string,
	note = '',
	showWhen: IDisplayOptions[] = [{}],
): INodeProperties[] {
	const store: INodeProperties = {
		displayName: 'Store',
		name: 'store',
		type: 'options',
		noDataExpression: true,
		// the default, then the shared stores, then the one for tests
		options: [
			{
				name: 'Local File (SQLite)',
				value: 'local',
				description:
					'A file in the n8n user folder: shared by the n8n processes of one host, kept across restarts',
			},
			{
				name: 'Redis',
				value: 'redis',
				description: 'Your Redis, for queue mode with workers on many hosts',
			},
			{
				name: 'Postgres',
				value: 'postgres',
				description: 'A table in your Postgres database, for queue mode with workers on many hosts',
			},
			{
				name: 'Memory (This Process Only)',
				value: 'memory',
				description: 'Lost on restart and not shared: for tests and single-process runs',
			},
		],
		default: 'local',
		description: `Where ${what} live.${note ? ` ${note}` : ''}`,
	};
	return [
		...showWhen.map((displayOptions) =>
			displayOptions.show || displayOptions.hide ? { ...store, displayOptions } : store,
		),
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

/**
 * n8n's built-in Redis and Postgres credentials, shown for those stores. "/store" (the node's root
 * parameter) rather than "store": the editor draws the credentials above the last parameter a
 * credential names without the slash, which put the node's own credential in the middle of the form.
 */
export const storeCredentials: INodeCredentialDescription[] = [
	{ name: 'redis', required: true, displayOptions: { show: { '/store': ['redis'] } } },
	{ name: 'postgres', required: true, displayOptions: { show: { '/store': ['postgres'] } } },
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
