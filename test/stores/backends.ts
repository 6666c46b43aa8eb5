/**
 * The store backends the suites run against. Redis and Postgres are the real services on this
 * machine (127.0.0.1:6379, 127.0.0.1:5432, database `test`); each run uses its own key prefix /
 * table and removes it afterwards. Without a service the suite is skipped with a loud notice,
 * unless CI=true: then it runs and fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';

import { MemoryStore } from '../../lib/stores/memory';
import { PostgresStore } from '../../lib/stores/postgres';
import { RedisStore } from '../../lib/stores/redis';
import { SqliteStore } from '../../lib/stores/sqlite';
import type { StateStore, StoreKind } from '../../lib/stores/types';

export const REDIS = { host: '127.0.0.1', port: 6379 };
export const POSTGRES = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };

/** A TCP connect in a child process: jest's describe blocks are synchronous, so the probe has to be. */
export function reachable(host: string, port: number): boolean {
	const probe = `require('net').connect(${port}, ${JSON.stringify(host)})
		.on('connect', () => process.exit(0)).on('error', () => process.exit(1));
		setTimeout(() => process.exit(1), 2000);`;
	return spawnSync(process.execPath, ['-e', probe]).status === 0;
}

const inCi = process.env.CI === 'true';

/** `describe`, or — only outside CI — `describe.skip` with a notice on stderr when the service is absent. */
export function describeWithService(
	service: string,
	available: boolean,
	name: string,
	fn: () => void,
): void {
	if (available || inCi) {
		describe(name, fn);
		return;
	}
	process.stderr.write(
		`\n*** SKIPPED: ${name} — ${service} is not reachable. Start it (scripts/services.sh); with CI=true these tests run and fail. ***\n\n`,
	);
	describe.skip(name, fn);
}

export interface Backend {
	name: string;
	kind: StoreKind;
	/** The service it needs, for the skip notice; undefined when it needs none. */
	service?: string;
	available: boolean;
	/** Survives close() and a new instance on the same file / server. */
	durable: boolean;
	make(options?: { now?: () => number }): StateStore;
	/** Connection settings for a worker process (see claim-worker.js). */
	workerConfig(): Record<string, unknown>;
	cleanup(): Promise<void>;
}

const runId = `${process.pid}_${Date.now().toString(36)}`;

/** Where a suite keeps its Redis keys and Postgres tables, apart from the other suites'. */
export interface BackendOptions {
	/** The Redis database; 0 unless given. */
	redisDb?: number;
	/** The Redis key prefix; aip-test-<run> unless given. */
	keyPrefix?: string;
	/** The Postgres table (and its _records, _counters, _events); aip_test_<run> unless given. */
	table?: string;
}

export function backends({
	redisDb = 0,
	keyPrefix = `aip-test-${runId}`,
	table = `aip_test_${runId}`,
}: BackendOptions = {}): Backend[] {
	let dir: string | undefined; // made on first use: a filtered run (-t) may never need it, nor clean it up
	const sqlitePath = () =>
		join((dir ??= mkdtempSync(join(tmpdir(), 'aip-stores-'))), 'state.sqlite');
	return [
		{
			name: 'memory',
			kind: 'memory',
			available: true,
			durable: false,
			make: (o = {}) => new MemoryStore(o),
			workerConfig: () => ({ kind: 'memory' }),
			cleanup: async () => undefined,
		},
		{
			name: 'SQLite',
			kind: 'local',
			available: true,
			durable: true,
			make: (o = {}) => new SqliteStore({ path: sqlitePath(), ...o }),
			workerConfig: () => ({ kind: 'local', path: sqlitePath() }),
			cleanup: async () => {
				if (dir) rmSync(dir, { recursive: true, force: true });
			},
		},
		{
			name: 'Redis',
			kind: 'redis',
			service: `Redis at ${REDIS.host}:${REDIS.port}`,
			available: reachable(REDIS.host, REDIS.port),
			durable: true,
			make: (o = {}) => new RedisStore({ ...REDIS, database: redisDb, keyPrefix, ...o }),
			workerConfig: () => ({ kind: 'redis', ...REDIS, database: redisDb, keyPrefix }),
			cleanup: async () => {
				const client = new Redis({ ...REDIS, db: redisDb, lazyConnect: true });
				try {
					const keys = await client.keys(`${keyPrefix}:*`);
					if (keys.length) await client.del(...keys);
				} finally {
					client.disconnect();
				}
			},
		},
		{
			name: 'Postgres',
			kind: 'postgres',
			service: `Postgres at ${POSTGRES.host}:${POSTGRES.port}/${POSTGRES.database}`,
			available: reachable(POSTGRES.host, POSTGRES.port),
			durable: true,
			make: (o = {}) => new PostgresStore({ ...POSTGRES, table, ...o }),
			// pg-pool's connect timeout also bounds the wait for a free connection: a worker queues
			// hundreds of operations on its 10, which on a loaded machine takes longer than the 5 s default.
			workerConfig: () => ({ kind: 'postgres', ...POSTGRES, table, connectTimeoutMs: 60_000 }),
			cleanup: async () => {
				const client = new Client(POSTGRES);
				await client.connect();
				try {
					await client.query(
						`DROP TABLE IF EXISTS "${table}", "${table}_records", "${table}_counters", "${table}_events"`,
					);
				} finally {
					await client.end();
				}
			},
		},
	];
}
