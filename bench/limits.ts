/**
 * npm run bench:limits — shared-limit decisions per second per backend, from one process, side by
 * side: memory, SQLite, Redis, Postgres (the local services). A decision is one admit + release of
 * the AI Call's shared limit (lib/ai/sharedLimit.ts):
 *  - rate: requests per minute only (the GCRA compare-and-set), set high enough never to wait;
 *  - slots: calls in flight only (a leased claim and its release), never full;
 *  - both: the two together, as the async sample uses it.
 * 16 callers at once. Prints a table and writes bench/results/limits.json. BENCH_DECISIONS
 * changes the count per phase.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SharedLimit, type SharedLimitSettings } from '../lib/ai/sharedLimit';
import { MemoryStore } from '../lib/stores/memory';
import { PostgresStore } from '../lib/stores/postgres';
import { RedisStore } from '../lib/stores/redis';
import { SqliteStore } from '../lib/stores/sqlite';
import type { StateStore } from '../lib/stores/types';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 5_000);
const CALLERS = 16;
const REDIS = { host: '127.0.0.1', port: 6379 };
const POSTGRES = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };
const runId = `bench_limits_${process.pid}`;

const tcp = (host: string, port: number) =>
	new Promise<boolean>((resolve) => {
		const socket = createConnection(port, host);
		socket.once('connect', () => {
			socket.end();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});

const dir = mkdtempSync(join(tmpdir(), 'aip-bench-limits-'));
const backends: Array<{ name: string; reachable: () => Promise<boolean>; open: () => StateStore }> =
	[
		{ name: 'Memory', reachable: async () => true, open: () => new MemoryStore() },
		{
			name: 'SQLite',
			reachable: async () => true,
			open: () => new SqliteStore({ path: join(dir, 'limits.sqlite') }),
		},
		{
			name: 'Redis',
			reachable: () => tcp(REDIS.host, REDIS.port),
			open: () => new RedisStore({ ...REDIS, keyPrefix: runId }),
		},
		{
			name: 'Postgres',
			reachable: () => tcp(POSTGRES.host, POSTGRES.port),
			open: () => new PostgresStore({ ...POSTGRES, table: runId }),
		},
	];

const PHASES: Record<string, Partial<SharedLimitSettings>> = {
	rate: { requestsPerMinute: 1e12 },
	slots: { maxInFlight: 1000 },
	both: { requestsPerMinute: 1e12, maxInFlight: 1000 },
};

async function phase(store: StateStore, name: string, settings: Partial<SharedLimitSettings>) {
	const limit = new SharedLimit(store, {
		name: `${runId}-${name}`,
		requestsPerMinute: 0,
		tokensPerMinute: 0,
		maxInFlight: 0,
		maxWaitMs: 60_000,
		...settings,
	});
	let next = 0;
	const started = process.hrtime.bigint();
	await Promise.all(
		Array.from({ length: CALLERS }, async () => {
			while (next++ < DECISIONS) {
				const admission = await limit.admit(100, 60_000);
				await admission.release({ usedTokens: 100 });
			}
		}),
	);
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	return Math.round(DECISIONS / seconds);
}

async function main() {
	const results: Record<string, Record<string, number | string>> = {};
	for (const backend of backends) {
		if (!(await backend.reachable())) {
			results[backend.name] = { skipped: 'not reachable' };
			continue;
		}
		const store = backend.open();
		try {
			const row: Record<string, number> = {};
			for (const [name, settings] of Object.entries(PHASES))
				row[name] = await phase(store, name, settings);
			results[backend.name] = row;
		} finally {
			if (store instanceof PostgresStore) await dropPostgres();
			await store.close();
		}
	}
	rmSync(dir, { recursive: true, force: true });
	console.log(
		`\nShared-limit decisions per second (admit + release), ${CALLERS} callers, ${DECISIONS} per phase, one process:`,
	);
	console.log('| Store | rate (GCRA) | slots (in flight) | both |\n| --- | --- | --- | --- |');
	for (const [name, r] of Object.entries(results))
		console.log(
			r.skipped
				? `| ${name} | skipped: ${r.skipped} | | |`
				: `| ${name} | ${r.rate} | ${r.slots} | ${r.both} |`,
		);
	mkdirSync(join(__dirname, '..', '..', 'bench', 'results'), { recursive: true });
	writeFileSync(
		join(__dirname, '..', '..', 'bench', 'results', 'limits.json'),
		`${JSON.stringify({ at: new Date().toISOString(), decisions: DECISIONS, callers: CALLERS, results }, null, 2)}\n`,
	);
}

async function dropPostgres() {
	const { Client } = await import('pg');
	const client = new Client(POSTGRES);
	await client.connect();
	try {
		await client.query(
			`DROP TABLE IF EXISTS ${runId}, ${runId}_records, ${runId}_counters, ${runId}_events`,
		);
	} finally {
		await client.end();
	}
}

void main().then(
	() => process.exit(0),
	(error: unknown) => {
		console.error(error);
		process.exit(1);
	},
);
