'use strict';
/**
 * node_modules/.bin/node bench/flood.js — n8n's own database under a flood of webhook deliveries.
 *
 * Fires FLOOD_REQUESTS (default 500) POSTs at once at the smallest webhook workflow that answers
 * before its work (Webhook → Respond 202 → Set) in real n8n 2.41.1, once per setup, side by side:
 *   - queue mode (main + FLOOD_WORKERS workers at --concurrency FLOOD_CONCURRENCY, Bull on Redis,
 *     a Postgres database of its own) with DB_POSTGRESDB_POOL_SIZE unset (n8n's default 2), 10, 20,
 *     and 20 with DB_POSTGRESDB_CONNECTION_TIMEOUT raised from 20 s to 60 s;
 *   - regular mode with SQLite (n8n's default database).
 * No node of this package runs: every failure counted here is n8n's own. Counts the answers by
 * status and error text, the latency of all answers, the executions n8n stored by status, and the
 * error lines of n8n's logs. Writes bench/results/flood.json; FLOOD_SETUPS=queue-2,regular picks
 * setups by id. Needs Postgres 127.0.0.1:5432 (user postgres, trust) and Redis 127.0.0.1:6379.
 */
const http = require('node:http');
const {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	rmSync,
	writeFileSync,
} = require('node:fs');
const { availableParallelism, loadavg, tmpdir } = require('node:os');
const { join } = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');

const { freePort, startN8n, N8nApi, N8N_VERSION } = require('../scripts/n8n-runtime');

const N = Number(process.env.FLOOD_REQUESTS ?? 500);
const WORKERS = Number(process.env.FLOOD_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.FLOOD_CONCURRENCY ?? 10);
/** A client gives up after this: an answer that never comes is a failure too. */
const CLIENT_TIMEOUT_MS = Number(process.env.FLOOD_TIMEOUT_MS ?? 120_000);
const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
const REDIS = { host: '127.0.0.1', port: 6379 };

const SETUPS = [
	{ id: 'queue-2', label: 'queue mode, pool unset (2)', mode: 'queue' },
	{ id: 'queue-10', label: 'queue mode, DB_POSTGRESDB_POOL_SIZE=10', mode: 'queue', pool: 10 },
	{ id: 'queue-20', label: 'queue mode, DB_POSTGRESDB_POOL_SIZE=20', mode: 'queue', pool: 20 },
	// a request waits for a pooled connection up to DB_POSTGRESDB_CONNECTION_TIMEOUT (20 s), then fails
	{
		id: 'queue-20-wait60',
		label: 'queue mode, pool 20, DB_POSTGRESDB_CONNECTION_TIMEOUT=60000',
		mode: 'queue',
		pool: 20,
		env: { DB_POSTGRESDB_CONNECTION_TIMEOUT: '60000' },
	},
	{ id: 'regular', label: 'regular mode, SQLite (default)', mode: 'regular' },
].filter((s) => !process.env.FLOOD_SETUPS || process.env.FLOOD_SETUPS.split(',').includes(s.id));

const FLOOD = {
	name: 'bench: flood',
	nodes: [
		{
			id: 'f1',
			name: 'Webhook',
			type: 'n8n-nodes-base.webhook',
			typeVersion: 2.1,
			position: [0, 0],
			webhookId: 'bench-flood',
			parameters: {
				httpMethod: 'POST',
				path: 'bench/flood',
				responseMode: 'responseNode',
				options: {},
			},
		},
		{
			id: 'f2',
			name: 'Respond 202',
			type: 'n8n-nodes-base.respondToWebhook',
			typeVersion: 1.5,
			position: [240, 0],
			parameters: {
				respondWith: 'json',
				responseBody: '={{ { accepted: true } }}',
				options: { responseCode: 202 },
			},
		},
		{
			id: 'f3',
			name: 'Work',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.4,
			position: [480, 0],
			parameters: {
				assignments: {
					assignments: [{ id: 'a1', name: 'done', value: '={{ $json.body.i }}', type: 'string' }],
				},
				options: {},
			},
		},
	],
	connections: {
		Webhook: { main: [[{ node: 'Respond 202', type: 'main', index: 0 }]] },
		'Respond 202': { main: [[{ node: 'Work', type: 'main', index: 0 }]] },
	},
	settings: { executionOrder: 'v1' },
};

const percentile = (sorted, p) =>
	sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : null;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One POST on its own connection (no keep-alive pool that would queue the flood client-side). */
function post(agent, port, i) {
	const body = JSON.stringify({ i });
	const started = performance.now();
	return new Promise((resolve) => {
		const done = (status, text) =>
			resolve({ status, text, ms: Math.round(performance.now() - started) });
		const req = http.request(
			{
				host: '127.0.0.1',
				port,
				path: '/webhook/bench/flood',
				method: 'POST',
				agent,
				headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
			},
			(res) => {
				let text = '';
				res.setEncoding('utf8');
				res.on('data', (c) => (text += c));
				res.on('end', () => done(res.statusCode, text));
				res.on('error', (e) => done('error', e.code ?? e.message));
			},
		);
		req.setTimeout(CLIENT_TIMEOUT_MS, () => req.destroy(new Error('client timeout')));
		req.on('error', (e) => done('error', e.code ?? e.message));
		req.end(body);
	});
}

/** n8n's error answer as one short line ({"code":0,"message":"…"} → the message). */
function errorText(text) {
	try {
		const parsed = JSON.parse(text);
		return String(parsed.message ?? text).slice(0, 160);
	} catch {
		return String(text).slice(0, 160);
	}
}

/**
 * Error lines n8n logged from `offsets` on, by process (main, worker), with ids and numbers
 * blanked so equal causes count as one.
 */
function logErrors(files, offsets) {
	const counts = {};
	files.forEach((file, i) => {
		const who = /n8n-worker-/.test(file) ? 'worker' : 'main';
		if (!existsSync(file)) return;
		const text = readFileSync(file)
			.subarray(offsets[i] ?? 0)
			.toString('utf8');
		for (const raw of text.split('\n')) {
			const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trim();
			if (!/error|timeout|timed out|fail|busy|exceeded|refused|terminated/i.test(line)) continue;
			// stack frames, and offline noise that is not the flood
			if (/^at |api\.n8n\.io|Python task runner|_TIMEOUT -> /.test(line)) continue;
			const key = `[${who}] ${line}`
				.replace(/\b[0-9a-f]{8,}\b/gi, '#')
				.replace(/\d+/g, 'N')
				.slice(0, 200);
			counts[key] = (counts[key] ?? 0) + 1;
		}
	});
	return Object.entries(counts)
		.sort((a, b) => b[1] - a[1])
		.slice(0, 12)
		.map(([line, count]) => ({ count, line }));
}

const logSize = (file) => (existsSync(file) ? readFileSync(file).length : 0);

async function pgAdmin(sql) {
	const client = new Client({ ...PG, database: 'postgres' });
	await client.connect();
	try {
		return await client.query(sql);
	} finally {
		await client.end();
	}
}

/** Executions n8n stored, by status: from its Postgres database or its SQLite file. */
async function executions(setup, ctx) {
	const sql = 'SELECT status, COUNT(*) AS n FROM execution_entity GROUP BY status';
	let rows;
	if (setup.mode === 'queue') {
		const client = new Client({ ...PG, database: ctx.database });
		await client.connect();
		try {
			rows = (await client.query(sql)).rows;
		} finally {
			await client.end();
		}
	} else {
		const { DatabaseSync } = require('node:sqlite');
		const db = new DatabaseSync(join(ctx.userFolder, '.n8n/database.sqlite'), { readOnly: true });
		try {
			rows = db.prepare(sql).all();
		} finally {
			db.close();
		}
	}
	return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

/** Waits until no execution is new or running, or the counts stop changing for 10 s. */
async function settled(setup, ctx) {
	let last = '';
	let stableSince = Date.now();
	const deadline = Date.now() + 180_000;
	for (;;) {
		const now = await executions(setup, ctx).catch(() => ({}));
		const open = (now.new ?? 0) + (now.running ?? 0);
		const key = JSON.stringify(now);
		if (key !== last) {
			last = key;
			stableSince = Date.now();
		}
		if (open === 0 || Date.now() - stableSince > 10_000 || Date.now() > deadline) return now;
		await sleep(1000);
	}
}

async function runSetup(setup) {
	const run = `${process.pid}_${Date.now().toString(36)}_${setup.id.replace(/\W/g, '')}`;
	const ctx = { userFolder: mkdtempSync(join(tmpdir(), `n8n-flood-${setup.id}-`)) };
	const processes = [];
	let env = {};
	try {
		if (setup.mode === 'queue') {
			ctx.database = `n8n_flood_${run}`;
			ctx.prefix = `bull_flood_${run}`;
			await pgAdmin(`CREATE DATABASE ${ctx.database}`);
			env = {
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: REDIS.host,
				QUEUE_BULL_REDIS_PORT: String(REDIS.port),
				QUEUE_BULL_PREFIX: ctx.prefix,
				N8N_REDIS_KEY_PREFIX: `n8n_flood_${run}`,
				DB_TYPE: 'postgresdb',
				DB_POSTGRESDB_HOST: PG.host,
				DB_POSTGRESDB_PORT: String(PG.port),
				DB_POSTGRESDB_DATABASE: ctx.database,
				DB_POSTGRESDB_USER: PG.user,
				N8N_ENCRYPTION_KEY: `flood-${run}`,
				...(setup.pool ? { DB_POSTGRESDB_POOL_SIZE: String(setup.pool) } : {}),
				...setup.env,
			};
		}
		const main = await startN8n({ userFolder: ctx.userFolder, env });
		processes.push(main);
		if (setup.mode === 'queue')
			for (let i = 0; i < WORKERS; i++)
				processes.push(
					await startN8n({
						userFolder: ctx.userFolder,
						env,
						command: 'worker',
						port: await freePort(),
						concurrency: CONCURRENCY,
					}),
				);
		const api = new N8nApi(main.url);
		await api.setupOwner();
		await api.importWorkflow(FLOOD, { activate: true });
		// one delivery first: the flood measures load, not a cold start
		const warm = await post(undefined, main.port, -1);
		if (warm.status !== 202) throw new Error(`warm-up answered ${warm.status}: ${warm.text}`);
		await settled(setup, ctx);

		const offsets = processes.map((p) => logSize(p.logFile));
		const load = loadavg().map((x) => Math.round(x * 10) / 10);
		const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
		const started = performance.now();
		const answers = await Promise.all(
			Array.from({ length: N }, (_, i) => post(agent, main.port, i)),
		);
		const wallMs = Math.round(performance.now() - started);
		agent.destroy();
		const stored = await settled(setup, ctx);

		const byStatus = {};
		const errors = {};
		for (const a of answers) {
			byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
			if (a.status !== 202) {
				const key = `${a.status}: ${errorText(a.text)}`;
				errors[key] = (errors[key] ?? 0) + 1;
			}
		}
		const all = answers.map((a) => a.ms).sort((a, b) => a - b);
		const ok = answers
			.filter((a) => a.status === 202)
			.map((a) => a.ms)
			.sort((a, b) => a - b);
		return {
			id: setup.id,
			label: setup.label,
			requests: N,
			byStatus,
			errors,
			latencyMs: {
				all: { p50: percentile(all, 50), p95: percentile(all, 95), max: all.at(-1) },
				accepted: { p50: percentile(ok, 50), p95: percentile(ok, 95), max: ok.at(-1) ?? null },
			},
			wallMs,
			// the warm-up delivery is one of them
			executions: stored,
			logErrors: logErrors(
				processes.map((p) => p.logFile),
				offsets,
			),
			// the machine's 1/5/15 min load average as the flood began: other work skews the figures
			loadBefore: load,
		};
	} finally {
		for (const p of processes.reverse()) await p.stop();
		if (ctx.database)
			await pgAdmin(`DROP DATABASE IF EXISTS ${ctx.database} WITH (FORCE)`).catch(() => undefined);
		if (ctx.prefix) {
			const redis = new Redis(REDIS);
			for (const pattern of [`${ctx.prefix}*`, `n8n_flood_${run}*`]) {
				const keys = await redis.keys(pattern);
				if (keys.length) await redis.del(...keys);
			}
			redis.disconnect();
		}
		if (!process.env.FLOOD_KEEP) rmSync(ctx.userFolder, { recursive: true, force: true });
		else process.stderr.write(`[flood] kept ${ctx.userFolder}\n`);
	}
}

function table(results) {
	const statuses = [...new Set(results.flatMap((r) => Object.keys(r.byStatus)))].sort();
	const lines = [
		`| Setup | ${statuses.join(' | ')} | p50 / p95 / max ms (all answers) | executions stored | load |`,
		`| --- | ${statuses.map(() => '---').join(' | ')} | --- | --- | --- |`,
	];
	for (const r of results) {
		const l = r.latencyMs.all;
		const stored = Object.entries(r.executions)
			.map(([s, n]) => `${s} ${n}`)
			.join(', ');
		lines.push(
			`| ${r.label} | ${statuses.map((s) => r.byStatus[s] ?? 0).join(' | ')} | ${l.p50} / ${l.p95} / ${l.max} | ${stored} | ${r.loadBefore[0]} |`,
		);
	}
	return lines.join('\n');
}

async function main() {
	const results = [];
	for (const setup of SETUPS) {
		process.stderr.write(`[flood] ${setup.label}: ${N} POSTs at once\n`);
		try {
			const result = await runSetup(setup);
			results.push(result);
			process.stderr.write(`${JSON.stringify(result, null, 2)}\n`);
		} catch (error) {
			process.stderr.write(`[flood] ${setup.id} failed: ${error.stack ?? error.message}\n`);
			results.push({ id: setup.id, label: setup.label, failed: error.message });
		}
	}
	const measured = results.filter((r) => !r.failed);
	process.stdout.write(
		`\nn8n ${N8N_VERSION}, ${N} POSTs at once to Webhook → Respond 202 → Set; queue mode: main + ${WORKERS} workers at --concurrency=${CONCURRENCY}; ${availableParallelism()} CPUs (load: 1-min average as the flood began)\n\n${table(measured)}\n`,
	);
	for (const r of measured) {
		process.stdout.write(`\n${r.label}: answers other than 202\n`);
		for (const [e, n] of Object.entries(r.errors)) process.stdout.write(`  ${n} × ${e}\n`);
		process.stdout.write('  log lines:\n');
		for (const { count, line } of r.logErrors) process.stdout.write(`  ${count} × ${line}\n`);
	}
	mkdirSync(join(__dirname, 'results'), { recursive: true });
	writeFileSync(
		join(__dirname, 'results', 'flood.json'),
		`${JSON.stringify(
			{
				n8n: N8N_VERSION,
				node: process.version,
				cpus: availableParallelism(),
				requests: N,
				workers: WORKERS,
				concurrency: CONCURRENCY,
				results,
			},
			null,
			2,
		)}\n`,
	);
	if (results.some((r) => r.failed)) process.exitCode = 1;
}

main().catch((error) => {
	process.stderr.write(`${error.stack ?? error.message}\n`);
	process.exit(1);
});
