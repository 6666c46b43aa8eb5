import { join } from 'node:path';

import {
	closeAllStores,
	defaultSqlitePath,
	getStore,
	postgresConfigFromCredentials,
	redisConfigFromCredentials,
} from '../../lib/stores';

afterAll(closeAllStores);

describe('store registry', () => {
	it('shares one store per backend and settings, and opens a new one after closeAllStores', async () => {
		const redis = { kind: 'redis' as const, host: '127.0.0.1', port: 6379, password: 'a' };
		const first = getStore(redis);
		expect(getStore({ ...redis })).toBe(first);
		expect(getStore({ ...redis, password: 'b' })).not.toBe(first);
		expect(getStore({ kind: 'local' })).toBe(
			getStore({ kind: 'local', path: defaultSqlitePath() }),
		);
		const memory = getStore({ kind: 'memory' });
		await memory.set('ns', 'k', 1, 60_000);
		await closeAllStores();
		const fresh = getStore({ kind: 'memory' });
		expect(fresh).not.toBe(memory);
		expect(await fresh.get('ns', 'k')).toBeUndefined();
	});

	it('keeps the SQLite file in the n8n user folder by default', () => {
		expect(defaultSqlitePath()).toBe(
			join(process.env.N8N_USER_FOLDER!, '.n8n', 'ai-patterns.sqlite'),
		);
		expect(getStore({ kind: 'local' }).label).toBe(`SQLite file ${defaultSqlitePath()}`);
	});
});

describe("n8n's credentials as store settings", () => {
	it('maps the Redis credential, TLS included', () => {
		expect(
			redisConfigFromCredentials({
				host: 'r.example',
				port: 6380,
				database: 2,
				user: '',
				password: 'pw',
				ssl: false,
			}),
		).toEqual({
			kind: 'redis',
			host: 'r.example',
			port: 6380,
			database: 2,
			username: undefined,
			password: 'pw',
			tls: false,
			rejectUnauthorized: undefined,
		});
		expect(
			redisConfigFromCredentials({
				host: 'r',
				port: 6379,
				user: 'app',
				ssl: true,
				disableTlsVerification: true,
			}),
		).toMatchObject({ username: 'app', tls: true, rejectUnauthorized: false });
		expect(getStore(redisConfigFromCredentials({ host: 'r', port: 6379, database: 3 })).label).toBe(
			'Redis at r:6379 (database 3)',
		);
	});

	it("maps the Postgres credential's SSL modes as n8n's Postgres node does", () => {
		const base = {
			host: 'db',
			port: 5433,
			database: 'app',
			user: 'n8n',
			password: 'pw',
			maxConnections: 100,
		};
		expect(postgresConfigFromCredentials({ ...base, ssl: 'disable' })).toEqual({
			kind: 'postgres',
			...base,
			ssl: false,
			maxConnections: 10,
		});
		expect(postgresConfigFromCredentials({ ...base, ssl: 'require' }).ssl).toBe(true);
		expect(postgresConfigFromCredentials({ ...base, ssl: 'allow' }).ssl).toBe(true);
		expect(postgresConfigFromCredentials({ ...base, allowUnauthorizedCerts: true }).ssl).toEqual({
			rejectUnauthorized: false,
		});
		expect(postgresConfigFromCredentials({ ...base, maxConnections: 4 }).maxConnections).toBe(4);
		expect(() => postgresConfigFromCredentials({ ...base, sshTunnel: true })).toThrow(/SSH tunnel/);
	});
});
