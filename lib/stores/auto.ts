/**
 * The "Auto" store: one instance-wide choice, so an operator configures state once for the main
 * process and every worker instead of in each node. Read from the process environment: node code
 * sees all of it (N8N_BLOCK_ENV_ACCESS_IN_NODE only blocks `$env` in expressions and the Code node).
 *
 * Precedence:
 * 1. N8N_AI_PATTERNS_STORE (or the file named by N8N_AI_PATTERNS_STORE_FILE): `local`, `memory`,
 *    `redis` (n8n's queue Redis, QUEUE_BULL_REDIS_*), `postgres` (n8n's own database,
 *    DB_POSTGRESDB_*, needs DB_TYPE=postgresdb), or a `redis://`, `rediss://`, `postgres://`,
 *    `postgresql://` URL. Empty or `auto`: as if unset. Anything else is an error, never a guess.
 * 2. Queue mode (EXECUTIONS_MODE=queue, or this process is `n8n worker`, which n8n puts in queue
 *    mode by itself): n8n's queue Redis, the one Bull uses.
 * 3. Otherwise the Local File (SQLite) in the n8n user folder.
 *
 * Environment values are read as n8n's config package reads them: a set variable wins over its
 * `_FILE` twin, a file's content is trimmed, strings lose surrounding quotes, a number or boolean
 * n8n cannot parse falls back to n8n's default (so this connects where n8n's own Redis client does).
 */
import { readFileSync } from 'node:fs';

import type { StoreConfig } from './index';

export type Env = Record<string, string | undefined>;

export const STORE_ENV = 'N8N_AI_PATTERNS_STORE';

/** The settings Auto stands for, and why (for errors and logs; never a password). */
export interface AutoStore {
	config: StoreConfig;
	reason: string;
}

function read(env: Env, name: string): string | undefined {
	if (name in env && env[name] !== undefined) return env[name];
	const file = env[`${name}_FILE`];
	if (!file) return undefined;
	try {
		return readFileSync(file, 'utf8').trim();
	} catch (error) {
		throw new Error(
			`${name}_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
		);
	}
}

const text = (env: Env, name: string, otherwise: string): string => {
	const value = read(env, name);
	return value === undefined ? otherwise : value.trim().replace(/^(['"])(.*)\1$/, '$2');
};

const number = (env: Env, name: string, otherwise: number): number => {
	const value = read(env, name);
	if (value === undefined || value.trim() === '') return otherwise;
	const n = Number(value);
	return Number.isNaN(n) ? otherwise : n;
};

const flag = (env: Env, name: string, otherwise: boolean): boolean => {
	const value = read(env, name)?.toLowerCase();
	if (value === 'true' || value === '1') return true;
	if (value === 'false' || value === '0') return false;
	return otherwise;
};

/** n8n's queue Redis from its QUEUE_BULL_REDIS_* settings, with n8n 2.41's defaults. */
export function n8nRedisConfig(env: Env): Extract<StoreConfig, { kind: 'redis' }> {
	if (text(env, 'QUEUE_BULL_REDIS_CLUSTER_NODES', ''))
		throw new Error(
			`n8n's Redis is a cluster (QUEUE_BULL_REDIS_CLUSTER_NODES), which the state store does not support: set ${STORE_ENV} to a redis:// URL of a single Redis or to a postgres:// URL`,
		);
	const tls = flag(env, 'QUEUE_BULL_REDIS_TLS', false);
	return {
		kind: 'redis',
		host: text(env, 'QUEUE_BULL_REDIS_HOST', 'localhost'),
		port: number(env, 'QUEUE_BULL_REDIS_PORT', 6379),
		database: number(env, 'QUEUE_BULL_REDIS_DB', 0),
		username: text(env, 'QUEUE_BULL_REDIS_USERNAME', '') || undefined,
		password: text(env, 'QUEUE_BULL_REDIS_PASSWORD', '') || undefined,
		tls,
		rejectUnauthorized: tls
			? flag(env, 'QUEUE_BULL_REDIS_TLS_VALIDATE_CERTIFICATE', true)
			: undefined,
	};
}

/** n8n's own Postgres database from its DB_POSTGRESDB_* settings (our tables beside n8n's). */
export function n8nPostgresConfig(env: Env): Extract<StoreConfig, { kind: 'postgres' }> {
	const dbType = text(env, 'DB_TYPE', 'sqlite');
	if (dbType !== 'postgresdb')
		throw new Error(
			`${STORE_ENV}=postgres uses n8n's own Postgres database, but n8n's DB_TYPE is ${dbType}: set DB_TYPE=postgresdb or ${STORE_ENV} to a postgres:// URL`,
		);
	const ssl = flag(env, 'DB_POSTGRESDB_SSL_ENABLED', false)
		? flag(env, 'DB_POSTGRESDB_SSL_REJECT_UNAUTHORIZED', true) || { rejectUnauthorized: false }
		: false;
	return {
		kind: 'postgres',
		host: text(env, 'DB_POSTGRESDB_HOST', 'localhost'),
		port: number(env, 'DB_POSTGRESDB_PORT', 5432),
		database: text(env, 'DB_POSTGRESDB_DATABASE', 'n8n'),
		user: text(env, 'DB_POSTGRESDB_USER', 'postgres'),
		password: text(env, 'DB_POSTGRESDB_PASSWORD', '') || undefined,
		ssl,
		maxConnections: 10,
	};
}

const decode = (part: string) => (part ? decodeURIComponent(part) : undefined);

function fromUrl(value: string): StoreConfig {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		throw new Error(`${STORE_ENV} is not a valid URL`); // never echo it: it may hold a password
	}
	const path = url.pathname.replace(/^\//, '');
	if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
		const database = path ? Number(path) : 0;
		if (!Number.isInteger(database) || database < 0)
			throw new Error(`${STORE_ENV}: the Redis database in the URL's path must be a number`);
		const tls = url.protocol === 'rediss:';
		return {
			kind: 'redis',
			host: url.hostname || 'localhost',
			port: Number(url.port || 6379),
			database,
			username: decode(url.username),
			password: decode(url.password),
			tls,
			rejectUnauthorized: tls ? url.searchParams.get('rejectUnauthorized') !== 'false' : undefined,
		};
	}
	// sslmode as libpq spells it: disable/prefer (the default here: no TLS), require/verify-*
	// (verified TLS) and no-verify (TLS with a self-signed certificate)
	const sslmode = url.searchParams.get('sslmode') ?? 'disable';
	if (!['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'].includes(sslmode))
		throw new Error(
			`${STORE_ENV}: sslmode=${sslmode} is not one of disable, require, verify-full, no-verify`,
		);
	return {
		kind: 'postgres',
		host: url.hostname || 'localhost',
		port: Number(url.port || 5432),
		database: decode(path) ?? 'postgres',
		user: decode(url.username) ?? 'postgres',
		password: decode(url.password),
		ssl:
			sslmode === 'no-verify'
				? { rejectUnauthorized: false }
				: !['disable', 'prefer'].includes(sslmode),
		maxConnections: 10,
	};
}

/** Whether this process runs n8n in queue mode (main, webhook or worker). */
export function isQueueMode(env: Env, argv: readonly string[] = process.argv): boolean {
	// `n8n worker` sets queue mode itself, with or without EXECUTIONS_MODE
	if (argv[2] === 'worker') return true;
	return text(env, 'EXECUTIONS_MODE', 'regular') === 'queue';
}

/** The store Auto stands for in a process with this environment. */
export function autoStore(
	env: Env = process.env,
	argv: readonly string[] = process.argv,
): AutoStore {
	const chosen = text(env, STORE_ENV, '');
	switch (chosen.toLowerCase()) {
		case '':
		case 'auto':
			break;
		case 'local':
			return { config: { kind: 'local' }, reason: `${STORE_ENV}=local` };
		case 'memory':
			return { config: { kind: 'memory' }, reason: `${STORE_ENV}=memory` };
		case 'redis':
			return { config: n8nRedisConfig(env), reason: `${STORE_ENV}=redis: n8n's queue Redis` };
		case 'postgres':
			return {
				config: n8nPostgresConfig(env),
				reason: `${STORE_ENV}=postgres: n8n's own database`,
			};
		default:
			if (/^(rediss?|postgres(ql)?):\/\//i.test(chosen))
				return { config: fromUrl(chosen), reason: `${STORE_ENV} URL` };
			throw new Error(
				`${STORE_ENV} is ${chosen.includes(':') ? 'a value' : `"${chosen}"`} that is none of local, redis, postgres, memory, auto or a redis:// / postgres:// URL`,
			);
	}
	if (isQueueMode(env, argv))
		return { config: n8nRedisConfig(env), reason: "queue mode: n8n's queue Redis" };
	return { config: { kind: 'local' }, reason: 'not queue mode: the Local File' };
}
