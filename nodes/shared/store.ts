import {
	NodeOperationError,
	type IDisplayOptions,
	type IExecuteFunctions,
	type INodeCredentialDescription,
	type INodeProperties,
} from 'n8n-workflow';

import {
	autoStore,
	getStore,
	postgresConfigFromCredentials,
	redisConfigFromCredentials,
	type StateStore,
	type StoreKind,
} from '../../lib/stores';

/** The "Store" parameter's value: a backend, or Auto (the instance-wide choice, lib/stores/auto). */
export type StoreChoice = StoreKind | 'auto';

export interface StoreVersions {
	/**
	 * The first node version whose Store defaults to Auto; earlier versions keep the Local File
	 * default, so saved workflows (n8n leaves a parameter equal to its default out) keep their
	 * store. Default 1.1; 1 for a node with no released version before Auto.
	 */
	autoSince?: number;
}

/**
 * The "Store" parameters every stateful node shows; `what` says what the store keeps. With
 * `showWhen`, one Store parameter per case (n8n's displayOptions cannot say "A or B"): give cases
 * that exclude each other, so that exactly one is shown whenever the store is used. Before
 * `autoSince` each case is split once more by '@version' (as n8n's own nodes change a default).
 */
export function storeProperties(
	what: string,
	note = '',
	showWhen: IDisplayOptions[] = [{}],
	{ autoSince = 1.1 }: StoreVersions = {},
): INodeProperties[] {
	const store: INodeProperties = {
		displayName: 'Store',
		name: 'store',
		type: 'options',
		noDataExpression: true,
		// the default, then the one-host store, the shared stores, the one for tests
		// eslint-disable-next-line n8n-nodes-base/node-param-options-type-unsorted-items
		options: [
			{
				name: 'Auto',
				value: 'auto',
				description:
					"What the n8n instance sets (N8N_AI_PATTERNS_STORE); else in queue mode n8n's own Redis, else the Local File",
			},
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
		default: 'auto',
		description: `Where ${what} live.${note ? ` ${note}` : ''}`,
	};
	const withVersion = (displayOptions: IDisplayOptions, versions: unknown): IDisplayOptions => ({
		...displayOptions,
		show: { ...displayOptions.show, '@version': [versions as never] },
	});
	const variants = (displayOptions: IDisplayOptions): INodeProperties[] => {
		const shown = displayOptions.show || displayOptions.hide ? { displayOptions } : {};
		if (autoSince <= 1) return [{ ...store, ...shown }];
		return [
			{
				...store,
				default: 'local',
				displayOptions: withVersion(displayOptions, { _cnd: { lt: autoSince } }),
			},
			{
				...store,
				displayOptions: withVersion(displayOptions, { _cnd: { gte: autoSince } }),
			},
		];
	};
	return [
		...showWhen.flatMap(variants),
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

/** Auto's choices already logged by this process (one line per store, not one per execution). */
const announced = new Set<string>();

/** The shared store for the node's settings (pooled across executions by the registry). */
export async function openStore(ctx: IExecuteFunctions): Promise<StateStore> {
	// hidden (the AI Call's budgets alone): the default of the current versions
	const kind = ctx.getNodeParameter('store', 0, 'auto') as StoreChoice;
	const credentials =
		kind === 'redis' || kind === 'postgres' ? await ctx.getCredentials(kind) : undefined;
	try {
		if (kind === 'auto') {
			const { config, reason } = autoStore();
			const store = getStore(config);
			if (!announced.has(store.label)) {
				announced.add(store.label);
				ctx.logger.info(`AI Patterns: Store "Auto" uses ${store.label} (${reason})`);
			}
			return store;
		}
		if (kind === 'redis') return getStore(redisConfigFromCredentials(credentials!));
		if (kind === 'postgres') return getStore(postgresConfigFromCredentials(credentials!));
		if (kind === 'local')
			return getStore({ kind, path: String(ctx.getNodeParameter('sqlitePath', 0, '') ?? '') });
		return getStore({ kind: 'memory' });
	} catch (error) {
		throw new NodeOperationError(
			ctx.getNode(),
			`Store${kind === 'auto' ? ' (Auto)' : ''}: ${(error as Error).message}`,
		);
	}
}
