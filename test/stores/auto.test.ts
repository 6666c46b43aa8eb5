import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { autoStore, isQueueMode, type Env } from '../../lib/stores/auto';

const N8N = ['/usr/bin/node', '/usr/local/bin/n8n'];
const start = [...N8N, 'start'];
const auto = (env: Env, argv: string[] = start) => autoStore(env, argv);

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'auto-store-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
	const path = join(dir, name);
	writeFileSync(path, content);
	return path;
};

describe('Auto without an instance setting', () => {
	it('is the Local File outside queue mode', () => {
		expect(auto({})).toEqual({
			config: { kind: 'local' },
			reason: 'not queue mode: the Local File',
		});
		expect(auto({ EXECUTIONS_MODE: 'regular' }).config).toEqual({ kind: 'local' });
	});

	it("is n8n's queue Redis in queue mode, with n8n 2.41's defaults", () => {
		expect(auto({ EXECUTIONS_MODE: 'queue' })).toEqual({
			config: {
				kind: 'redis',
				host: 'localhost',
				port: 6379,
				database: 0,
				username: undefined,
				password: undefined,
				tls: false,
				rejectUnauthorized: undefined,
			},
			reason: "queue mode: n8n's queue Redis",
		});
	});

	it('reads every QUEUE_BULL_REDIS_* setting the store can use', () => {
		expect(
			auto({
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: 'redis.internal',
				QUEUE_BULL_REDIS_PORT: '6380',
				QUEUE_BULL_REDIS_DB: '4',
				QUEUE_BULL_REDIS_USERNAME: 'n8n',
				QUEUE_BULL_REDIS_PASSWORD: 's3cret',
				QUEUE_BULL_REDIS_TLS: 'true',
				QUEUE_BULL_REDIS_TLS_VALIDATE_CERTIFICATE: 'false',
			}).config,
		).toEqual({
			kind: 'redis',
			host: 'redis.internal',
			port: 6380,
			database: 4,
			username: 'n8n',
			password: 's3cret',
			tls: true,
			rejectUnauthorized: false,
		});
	});

	it('reads values as n8n does: quotes and spaces off strings, bad numbers and booleans to the default', () => {
		const { config } = auto({
			EXECUTIONS_MODE: ' "queue" ',
			QUEUE_BULL_REDIS_HOST: "'redis.internal' ",
			QUEUE_BULL_REDIS_PORT: 'six',
			QUEUE_BULL_REDIS_DB: '',
			QUEUE_BULL_REDIS_TLS: 'yes',
		});
		expect(config).toMatchObject({ host: 'redis.internal', port: 6379, database: 0, tls: false });
		expect(auto({ EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_TLS: '1' }).config).toMatchObject({
			tls: true,
			rejectUnauthorized: true,
		});
		// n8n ignores an invalid EXECUTIONS_MODE (regular)
		expect(auto({ EXECUTIONS_MODE: 'queued' }).config).toEqual({ kind: 'local' });
	});

	it('reads the password from QUEUE_BULL_REDIS_PASSWORD_FILE (trimmed); a set variable wins over its file', () => {
		const path = file('redis-password', '  from-file\n');
		const env = { EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_PASSWORD_FILE: path };
		expect(auto(env).config).toMatchObject({ password: 'from-file' });
		expect(auto({ ...env, QUEUE_BULL_REDIS_PASSWORD: 'from-env' }).config).toMatchObject({
			password: 'from-env',
		});
		expect(
			auto({
				EXECUTIONS_MODE_FILE: file('mode', 'queue'),
				QUEUE_BULL_REDIS_HOST_FILE: file('host', 'h'),
			}).config,
		).toMatchObject({
			kind: 'redis',
			host: 'h',
		});
	});

	it('names a _FILE it cannot read, without its content', () => {
		expect(() =>
			auto({ EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_PASSWORD_FILE: join(dir, 'missing') }),
		).toThrow(/^QUEUE_BULL_REDIS_PASSWORD_FILE: cannot read .*missing \(ENOENT\)$/);
	});

	it('is in queue mode in an `n8n worker` process, which n8n puts in queue mode without EXECUTIONS_MODE', () => {
		expect(isQueueMode({}, [...N8N, 'worker', '--concurrency=5'])).toBe(true);
		expect(auto({}, [...N8N, 'worker']).config.kind).toBe('redis');
		expect(isQueueMode({}, start)).toBe(false);
		expect(isQueueMode({ EXECUTIONS_MODE: 'queue' }, [...N8N, 'webhook'])).toBe(true);
	});

	it('refuses a Redis cluster (the store does not support one) and says what to set', () => {
		expect(() =>
			auto({ EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_CLUSTER_NODES: 'a:6379,b:6379' }),
		).toThrow(/cluster .* set N8N_AI_PATTERNS_STORE/);
	});
});

describe('Auto with N8N_AI_PATTERNS_STORE', () => {
	it('wins over queue mode', () => {
		expect(auto({ EXECUTIONS_MODE: 'queue', N8N_AI_PATTERNS_STORE: 'local' })).toEqual({
			config: { kind: 'local' },
			reason: 'N8N_AI_PATTERNS_STORE=local',
		});
		expect(auto({ EXECUTIONS_MODE: 'queue', N8N_AI_PATTERNS_STORE: 'Memory' }).config).toEqual({
			kind: 'memory',
		});
	});

	it('empty or auto: as if unset', () => {
		expect(auto({ N8N_AI_PATTERNS_STORE: '' }).config).toEqual({ kind: 'local' });
		expect(auto({ N8N_AI_PATTERNS_STORE: 'auto', EXECUTIONS_MODE: 'queue' }).config.kind).toBe(
			'redis',
		);
	});

	it("redis: n8n's queue Redis also outside queue mode", () => {
		expect(auto({ N8N_AI_PATTERNS_STORE: 'redis', QUEUE_BULL_REDIS_HOST: 'r1' })).toMatchObject({
			config: { kind: 'redis', host: 'r1', port: 6379 },
			reason: expect.stringMatching(/=redis/),
		});
	});

	it("postgres: n8n's own database (DB_POSTGRESDB_*), with its SSL settings", () => {
		const env = {
			N8N_AI_PATTERNS_STORE: 'postgres',
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: 'pg',
			DB_POSTGRESDB_PORT: '5433',
			DB_POSTGRESDB_DATABASE: 'n8n_prod',
			DB_POSTGRESDB_USER: 'n8n',
			DB_POSTGRESDB_PASSWORD_FILE: file('pg-password', 'pw\n'),
		};
		expect(auto(env).config).toEqual({
			kind: 'postgres',
			host: 'pg',
			port: 5433,
			database: 'n8n_prod',
			user: 'n8n',
			password: 'pw',
			ssl: false,
			maxConnections: 10,
		});
		expect(auto({ ...env, DB_POSTGRESDB_SSL_ENABLED: 'true' }).config).toMatchObject({ ssl: true });
		expect(
			auto({
				...env,
				DB_POSTGRESDB_SSL_ENABLED: 'true',
				DB_POSTGRESDB_SSL_REJECT_UNAUTHORIZED: 'false',
			}).config,
		).toMatchObject({ ssl: { rejectUnauthorized: false } });
		expect(auto({ DB_TYPE: 'postgresdb', N8N_AI_PATTERNS_STORE: 'postgres' }).config).toMatchObject(
			{
				host: 'localhost',
				port: 5432,
				database: 'n8n',
				user: 'postgres',
			},
		);
	});

	it('postgres without n8n on Postgres is an error that says what to set', () => {
		expect(() => auto({ N8N_AI_PATTERNS_STORE: 'postgres' })).toThrow(
			/DB_TYPE is sqlite: set DB_TYPE=postgresdb or N8N_AI_PATTERNS_STORE to a postgres:\/\/ URL/,
		);
	});

	it('a redis:// or rediss:// URL', () => {
		expect(auto({ N8N_AI_PATTERNS_STORE: 'redis://u:p%40ss@cache:6390/2' })).toEqual({
			config: {
				kind: 'redis',
				host: 'cache',
				port: 6390,
				database: 2,
				username: 'u',
				password: 'p@ss',
				tls: false,
				rejectUnauthorized: undefined,
			},
			reason: 'N8N_AI_PATTERNS_STORE URL',
		});
		expect(auto({ N8N_AI_PATTERNS_STORE: 'rediss://:pw@cache' }).config).toMatchObject({
			port: 6379,
			database: 0,
			username: undefined,
			password: 'pw',
			tls: true,
			rejectUnauthorized: true,
		});
		expect(
			auto({ N8N_AI_PATTERNS_STORE: 'rediss://cache?rejectUnauthorized=false' }).config,
		).toMatchObject({ tls: true, rejectUnauthorized: false });
		expect(() => auto({ N8N_AI_PATTERNS_STORE: 'redis://cache/db' })).toThrow(/must be a number/);
	});

	it('a postgres:// URL with sslmode, from N8N_AI_PATTERNS_STORE_FILE too', () => {
		expect(auto({ N8N_AI_PATTERNS_STORE: 'postgresql://app:pw@db:5434/state' }).config).toEqual({
			kind: 'postgres',
			host: 'db',
			port: 5434,
			database: 'state',
			user: 'app',
			password: 'pw',
			ssl: false,
			maxConnections: 10,
		});
		const url = 'postgres://db/state?sslmode=no-verify';
		expect(
			auto({ N8N_AI_PATTERNS_STORE_FILE: file('store-url', `${url}\n`) }).config,
		).toMatchObject({
			user: 'postgres',
			port: 5432,
			ssl: { rejectUnauthorized: false },
		});
		expect(auto({ N8N_AI_PATTERNS_STORE: 'postgres://db/s?sslmode=require' }).config).toMatchObject(
			{
				ssl: true,
			},
		);
		expect(() => auto({ N8N_AI_PATTERNS_STORE: 'postgres://db/s?sslmode=allow' })).toThrow(
			/sslmode=allow/,
		);
	});

	it('anything else is an error, never a guess, and never echoes a URL (it may hold a password)', () => {
		expect(() => auto({ N8N_AI_PATTERNS_STORE: 'sqlite' })).toThrow(
			'N8N_AI_PATTERNS_STORE is "sqlite" that is none of local, redis, postgres, memory, auto or a redis:// / postgres:// URL',
		);
		const bad = 'mysql://root:hunter2@db/x';
		expect(() => auto({ N8N_AI_PATTERNS_STORE: bad })).toThrow(/^N8N_AI_PATTERNS_STORE is a value/);
		let message = '';
		try {
			auto({ N8N_AI_PATTERNS_STORE: 'redis://u:hunter2@[bad' });
		} catch (error) {
			message = (error as Error).message;
		}
		expect(message).toBe('N8N_AI_PATTERNS_STORE is not a valid URL');
	});
});
