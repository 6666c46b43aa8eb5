/**
 * What the benches share: the local services, a TCP probe for them, the four backends a bench
 * runs side by side (memory, SQLite in a temp dir, Redis and Postgres under a run id of its own),
 * the removal of the run's data afterwards, and the results file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MemoryStore } from '../lib/stores/memory';
import { PostgresStore } from '../lib/stores/postgres';
import { RedisStore } from '../lib/stores/redis';
import { SqliteStore } from '../lib/stores/sqlite';
import type { StateStore } from '../lib/stores/types';

export const REDIS = { host: '127.0.0.1', port: 6379 };
export const POSTGRES = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };

/** Whether something listens on host:port (a bench skips a service that is not running). */
export const tcp = (host: string, port: number) =>
	new Promise<boolean>((resolve) => {
		const socket = createConnection(port, host);
		socket.once('connect', () => {
			socket.end();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});

export interface BenchBackend {
	name: 'Memory' | 'SQLite' | 'Redis' | 'Postgres';
	reachable: () => Promise<boolean>;
	open: () => StateStore;
}

/**
 * The backends of bench `name`: its run id is bench_<name>_<pid>, the Redis key prefix and the
 * Postgres table. `cleanup` removes the temp dir, the run's Redis keys and its Postgres tables;
 * call it once the stores are closed.
 */
export function benchBackends(
	name: string,
	{ redisDb = 0 }: { redisDb?: number } = {},
): { runId: string; backends: BenchBackend[]; cleanup: () => Promise<void> } {
	const runId = `bench_${name}_${process.pid}`;
	const redis = { ...REDIS, database: redisDb };
	const dir = mkdtempSync(join(tmpdir(), `aip-bench-${name}-`));
	const backends: BenchBackend[] = [
		{ name: 'Memory', reachable: async () => true, open: () => new MemoryStore() },
		{
			name: 'SQLite',
			reachable: async () => true,
			open: () => new SqliteStore({ path: join(dir, `${name}.sqlite`) }),
		},
		{
			name: 'Redis',
			reachable: () => tcp(REDIS.host, REDIS.port),
			open: () => new RedisStore({ ...redis, keyPrefix: runId }),
		},
		{
			name: 'Postgres',
			reachable: () => tcp(POSTGRES.host, POSTGRES.port),
			open: () => new PostgresStore({ ...POSTGRES, table: runId }),
		},
	];
	const cleanup = async () => {
		rmSync(dir, { recursive: true, force: true });
		if (await tcp(REDIS.host, REDIS.port)) {
			const { default: Redis } = await import('ioredis');
			const client = new Redis({ ...REDIS, db: redisDb });
			try {
				const keys = await client.keys(`${runId}:*`);
				if (keys.length) await client.del(...keys);
			} finally {
				client.disconnect();
			}
		}
		if (await tcp(POSTGRES.host, POSTGRES.port)) {
			const { Client } = await import('pg');
			const client = new Client(POSTGRES);
			await client.connect();
			try {
				const tables = ['', '_records', '_counters', '_events'].map((s) => `"${runId}${s}"`);
				await client.query(`DROP TABLE IF EXISTS ${tables.join(', ')}`);
			} finally {
				await client.end();
			}
		}
	};
	return { runId, backends, cleanup };
}

/** bench/results/<name>.json in the repository (the compiled bench runs from .bench/bench). */
export function writeResult(name: string, data: unknown): void {
	const out = join(__dirname, '..', '..', 'bench', 'results');
	mkdirSync(out, { recursive: true });
	writeFileSync(join(out, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
}
