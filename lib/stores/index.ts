/**
 * One shared store per backend and connection settings: pools and connections outlive executions
 * (never one per item or per run) and close when the process exits.
 */
import { hashValue } from '../hash';
import { MemoryStore } from './memory';
import { PostgresStore, type PostgresStoreOptions } from './postgres';
import { RedisStore, type RedisStoreOptions } from './redis';
import { SqliteStore, defaultSqlitePath, type SqliteStoreOptions } from './sqlite';
import type { StateStore } from './types';

export * from './types';
export { StoreError } from './common';
export { autoStore, isQueueMode, STORE_ENV, type AutoStore } from './auto';
export { MemoryStore, PostgresStore, RedisStore, SqliteStore, defaultSqlitePath };

type WithoutClock<T> = Omit<T, 'now'>;

export type StoreConfig =
	| { kind: 'memory' }
	| ({ kind: 'local' } & WithoutClock<SqliteStoreOptions>)
	| ({ kind: 'redis' } & WithoutClock<RedisStoreOptions>)
	| ({ kind: 'postgres' } & WithoutClock<PostgresStoreOptions>);

const stores = new Map<string, StateStore>();
let exitHookInstalled = false;

export function createStore(config: StoreConfig): StateStore {
	switch (config.kind) {
		case 'memory':
			return new MemoryStore();
		case 'local':
			return new SqliteStore(config);
		case 'redis':
			return new RedisStore(config);
		case 'postgres':
			return new PostgresStore(config);
	}
}

/** The shared store for these settings. Keyed by a hash of them, so no password is kept in a key. */
export function getStore(config: StoreConfig): StateStore {
	const normalised: StoreConfig =
		config.kind === 'local' ? { ...config, path: config.path || defaultSqlitePath() } : config;
	const id = `${config.kind}:${hashValue(normalised)}`;
	let store = stores.get(id);
	if (!store) {
		store = createStore(normalised);
		stores.set(id, store);
		installExitHook();
	}
	return store;
}

/** Work that must reach the stores before they close (the usage ledger's buffered writes). */
const beforeClose = new Set<() => Promise<void>>();
export function beforeStoresClose(fn: () => Promise<void>): void {
	beforeClose.add(fn);
}

export async function closeAllStores(): Promise<void> {
	await Promise.allSettled([...beforeClose].map(async (fn) => await fn()));
	const all = [...stores.values()];
	stores.clear();
	await Promise.allSettled(all.map(async (store) => await store.close()));
}

/**
 * n8n ends with process.exit() after its own shutdown, so only synchronous work runs then:
 * close() closes SQLite (checkpointing its WAL) and starts the Redis QUIT / Postgres pool end
 * before returning its promise. A signal handler is not installed: it would change how the
 * process reacts to SIGTERM.
 */
function installExitHook(): void {
	if (exitHookInstalled) return;
	exitHookInstalled = true;
	process.once('exit', () => void closeAllStores());
}

/** n8n's built-in `redis` credential (n8n-nodes-base Redis.credentials) as store settings. */
export function redisConfigFromCredentials(
	credentials: Record<string, unknown>,
): Extract<StoreConfig, { kind: 'redis' }> {
	return {
		kind: 'redis',
		host: String(credentials.host || 'localhost'),
		port: Number(credentials.port || 6379),
		database: Number(credentials.database || 0),
		username: (credentials.user as string) || undefined,
		password: (credentials.password as string) || undefined,
		tls: credentials.ssl === true,
		rejectUnauthorized:
			credentials.ssl === true ? credentials.disableTlsVerification !== true : undefined,
	};
}

/** n8n's built-in `postgres` credential, mapped as n8n's own Postgres node maps it (SSL included). */
export function postgresConfigFromCredentials(
	credentials: Record<string, unknown>,
): Extract<StoreConfig, { kind: 'postgres' }> {
	if (credentials.sshTunnel === true)
		throw new Error(
			'the Postgres credential uses an SSH tunnel, which the state store does not support: use a credential with a direct connection',
		);
	const ssl =
		credentials.allowUnauthorizedCerts === true
			? { rejectUnauthorized: false }
			: !['disable', undefined, ''].includes(credentials.ssl as string);
	return {
		kind: 'postgres',
		host: String(credentials.host || 'localhost'),
		port: Number(credentials.port || 5432),
		database: String(credentials.database || 'postgres'),
		user: String(credentials.user || 'postgres'),
		password: (credentials.password as string) || undefined,
		ssl,
		// The credential's default (100) is sized for n8n's own Postgres node; the store needs few.
		maxConnections: Math.min(Number(credentials.maxConnections) || 10, 10),
	};
}
