/**
 * npm run bench:stores — the state stores over 10,000 keys each: memory, SQLite, Redis, Postgres
 * (the local services, as the tests use them).
 *  1. sequential: one claim at a time on fresh keys — the store's own latency (p50/p95/p99);
 *  2. concurrent: 16 claims in flight on fresh keys, as the Idempotency Guard issues them;
 *  3. duplicates: the same 10,000 keys again (each answers In Progress), 16 in flight.
 * Memory: heap growth of this process while the store holds 20,000 claims, and what the backend
 * itself holds (file size, Redis used_memory growth, table size). Prints a table and writes
 * bench/results/stores.json. BENCH_KEYS changes the key count.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';

import { MemoryStore } from '../lib/stores/memory';
import { PostgresStore } from '../lib/stores/postgres';
import { RedisStore } from '../lib/stores/redis';
import { SqliteStore } from '../lib/stores/sqlite';
import type { ClaimOutcome, StateStore } from '../lib/stores/types';
import { POSTGRES, REDIS, tcp, writeResult } from './backends';

const KEYS = Number(process.env.BENCH_KEYS ?? 10_000);
const IN_FLIGHT = 16;
const LEASE_MS = 300_000;
const runId = `bench_${process.pid}`;

interface Backend {
	name: string;
	reachable: () => Promise<boolean>;
	open: () => StateStore;
	/** Bytes the backend holds for this run's data. */
	storage: () => Promise<number | undefined>;
	cleanup: () => Promise<void>;
}

interface Phase {
	claimsPerSecond: number;
	p50Ms: number;
	p95Ms: number;
	p99Ms: number;
	outcomes: Record<string, number>;
}

const dir = mkdtempSync(join(tmpdir(), 'aip-bench-'));
const sqlitePath = join(dir, 'state.sqlite');
let redisBaseline = 0;

async function redisUsedMemory(): Promise<number> {
	const client = new IORedis({ ...REDIS, lazyConnect: true });
	try {
		const info = await client.info('memory');
		return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
	} finally {
		client.disconnect();
	}
}

async function pg<T>(fn: (c: Client) => Promise<T>): Promise<T> {
	const client = new Client(POSTGRES);
	await client.connect();
	try {
		return await fn(client);
	} finally {
		await client.end();
	}
}

const backends: Backend[] = [
	{
		name: 'memory',
		reachable: async () => true,
		open: () => new MemoryStore(),
		storage: async () => undefined,
		cleanup: async () => undefined,
	},
	{
		name: 'SQLite',
		reachable: async () => true,
		open: () => new SqliteStore({ path: sqlitePath }),
		storage: async () =>
			['', '-wal', '-shm'].reduce((sum, ext) => {
				try {
					return sum + statSync(sqlitePath + ext).size;
				} catch {
					return sum;
				}
			}, 0),
		cleanup: async () => rmSync(dir, { recursive: true, force: true }),
	},
	{
		name: 'Redis',
		reachable: async () => {
			if (!(await tcp(REDIS.host, REDIS.port))) return false;
			redisBaseline = await redisUsedMemory();
			return true;
		},
		open: () => new RedisStore({ ...REDIS, keyPrefix: runId }),
		storage: async () => (await redisUsedMemory()) - redisBaseline,
		cleanup: async () => {
			const client = new IORedis({ ...REDIS, lazyConnect: true });
			try {
				for (;;) {
					const keys = await client.keys(`${runId}:*`);
					if (!keys.length) break;
					await client.del(...keys.slice(0, 5000));
				}
			} finally {
				client.disconnect();
			}
		},
	},
	{
		name: 'Postgres',
		reachable: () => tcp(POSTGRES.host, POSTGRES.port),
		open: () => new PostgresStore({ ...POSTGRES, table: runId }),
		storage: () =>
			pg(async (c) =>
				Number((await c.query('SELECT pg_total_relation_size($1) AS size', [runId])).rows[0].size),
			),
		cleanup: () =>
			pg(
				async (c) =>
					void (await c.query(
						`DROP TABLE IF EXISTS "${runId}", "${runId}_records", "${runId}_counters", "${runId}_events"`,
					)),
			),
	},
];

const percentile = (sorted: number[], p: number) =>
	sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function phase(store: StateStore, namespace: string, inFlight: number): Promise<Phase> {
	const latencies = new Float64Array(KEYS);
	const outcomes: Record<string, number> = {};
	let next = 0;
	const worker = async () => {
		while (next < KEYS) {
			const i = next++;
			const t0 = process.hrtime.bigint();
			const { outcome }: ClaimOutcome = await store.claim(namespace, `key-${i}`, {
				leaseMs: LEASE_MS,
				fingerprint: 'f',
			});
			latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6;
			outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
		}
	};
	const t0 = process.hrtime.bigint();
	await Promise.all(Array.from({ length: inFlight }, worker));
	const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
	const sorted = Array.from(latencies).sort((a, b) => a - b);
	return {
		claimsPerSecond: Math.round((KEYS / wallMs) * 1000),
		p50Ms: +percentile(sorted, 50).toFixed(3),
		p95Ms: +percentile(sorted, 95).toFixed(3),
		p99Ms: +percentile(sorted, 99).toFixed(3),
		outcomes,
	};
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();

async function main() {
	const results: Record<string, unknown> = {
		keys: KEYS,
		inFlight: IN_FLIGHT,
		node: process.version,
		date: new Date().toISOString(),
		backends: {},
	};
	const rows: string[][] = [];
	for (const backend of backends) {
		if (!(await backend.reachable())) {
			process.stdout.write(`${backend.name}: not reachable, skipped\n`);
			(results.backends as Record<string, unknown>)[backend.name] = { skipped: 'not reachable' };
			continue;
		}
		const store = backend.open();
		try {
			await store.read('warm-up', 'k'); // connect (and create the table) outside the timings
			gc();
			const heapBefore = process.memoryUsage().heapUsed;
			const sequential = await phase(store, 'sequential', 1);
			const concurrent = await phase(store, 'concurrent', IN_FLIGHT);
			const duplicates = await phase(store, 'concurrent', IN_FLIGHT);
			gc();
			const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
			const storage = await backend.storage();
			for (const [p, expected] of [
				[sequential, 'claimed'],
				[concurrent, 'claimed'],
				[duplicates, 'in_progress'],
			] as const)
				if (p.outcomes[expected] !== KEYS)
					throw new Error(
						`${backend.name}: expected ${KEYS} ${expected}, got ${JSON.stringify(p.outcomes)}`,
					);
			(results.backends as Record<string, unknown>)[backend.name] = {
				sequential,
				concurrent,
				duplicates,
				heapGrowthBytes: heapGrowth,
				storageBytes: storage ?? null,
			};
			const mb = (bytes: number | undefined) =>
				bytes === undefined ? '—' : `${(bytes / 1e6).toFixed(1)} MB`;
			for (const [label, p] of [
				['claims, one at a time', sequential],
				[`claims, ${IN_FLIGHT} in flight`, concurrent],
				[`duplicates, ${IN_FLIGHT} in flight`, duplicates],
			] as const)
				rows.push([
					backend.name,
					label,
					p.claimsPerSecond.toLocaleString('en'),
					p.p50Ms.toFixed(3),
					p.p95Ms.toFixed(3),
					p.p99Ms.toFixed(3),
					label.startsWith('claims, one') ? mb(heapGrowth) : '',
					label.startsWith('claims, one') ? mb(storage) : '',
				]);
		} finally {
			await store.close();
			await backend.cleanup();
		}
	}

	const header = ['store', 'phase', 'claims/s', 'p50 ms', 'p95 ms', 'p99 ms', 'heap +', 'stored'];
	const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
	const line = (r: string[]) =>
		r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
	process.stdout.write(
		`\n${KEYS.toLocaleString('en')} keys per phase, Node ${process.version}; memory: 2 × ${KEYS.toLocaleString('en')} claims held\n\n`,
	);
	process.stdout.write(`${line(header)}\n${rows.map(line).join('\n')}\n`);

	writeResult('stores', results);
	process.stdout.write('\nwritten: bench/results/stores.json\n');
}

main().catch((error: Error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
