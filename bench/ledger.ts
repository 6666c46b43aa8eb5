/**
 * npm run bench:ledger — what the usage ledger costs an AI call, per backend, side by side in one
 * run: memory, SQLite, Redis, Postgres (the local services).
 *
 * The same 20,000 calls (BENCH_CALLS), 50 at once, each a stand-in that yields to the event loop
 * as a real call's I/O does, run without the ledger and then with it (every call's event appended
 * to the process's batching writer, flushed in the background within 0.5 s, the last flush
 * awaited). Per call: the wall time and the main thread's CPU added by the ledger (the store
 * writes run in the background on the same thread, so CPU is where they show), and the time the
 * call itself waits for the ledger (the append: the call never waits for the store).
 * Prints a table and writes bench/results/ledger.json.
 */
import { LedgerWriter, usageReport, type UsageEvent } from '../lib/ai/ledger';
import { benchBackends, writeResult } from './backends';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const PARALLEL = 50;
const { backends, cleanup } = benchBackends('ledger');

const TAGS = ['document-processed', 'question-answered', 'claim-checked'];
const MODELS = ['gpt-4o-mini', 'claude-sonnet-4-5', 'sim-standard'];

function event(i: number): UsageEvent {
	const failed = i % 10 === 0;
	return {
		outcome: failed ? 'failed' : 'success',
		failureClass: failed ? 'timeout' : undefined,
		provider: 'openai',
		model: MODELS[i % MODELS.length],
		inputTokens: 200 + (i % 50),
		outputTokens: 80 + (i % 30),
		cost: {
			inputUsd: 0.00003,
			outputUsd: 0.00005,
			totalUsd: 0.00008,
			tag: TAGS[i % 3],
			priced: true,
		},
		latencyMs: 100 + (i % 900),
		attempts: failed ? 2 : 1,
		retries: failed ? 1 : 0,
		timeouts: failed ? 1 : 0,
		fallbackUsed: false,
		at: Date.now(),
		workflowId: `w${i % 4}`,
		workflowName: `Workflow ${i % 4}`,
		executionId: String(i),
		node: 'AI Call',
		tag: TAGS[i % 3],
	};
}

/** The calls, PARALLEL at once; `after` is what the ledger does when a call ends. */
async function calls(after?: (i: number) => void) {
	let next = 0;
	let waitedNs = 0n;
	const cpu = process.cpuUsage();
	const started = process.hrtime.bigint();
	await Promise.all(
		Array.from({ length: PARALLEL }, async () => {
			while (next < CALLS) {
				const i = next++;
				await new Promise((resolve) => setImmediate(resolve));
				if (after) {
					const t = process.hrtime.bigint();
					after(i);
					waitedNs += process.hrtime.bigint() - t;
				}
			}
		}),
	);
	return { started, cpu, waitedNs };
}

const ms = (ns: bigint) => Number(ns) / 1e6;

async function main() {
	const rows: Array<Record<string, unknown>> = [];
	try {
		for (const backend of backends) {
			if (!(await backend.reachable())) {
				console.log(`${backend.name}: not reachable, skipped`);
				continue;
			}
			const store = backend.open();
			try {
				await calls(); // warm-up of the event loop and JIT
				const base = await calls();
				const baseWall = ms(process.hrtime.bigint() - base.started);
				const baseCpu = process.cpuUsage(base.cpu);

				const writer = new LedgerWriter(store);
				writer.warn = (m) => console.error(m);
				const withLedger = await calls((i) => writer.record(event(i), 86_400_000));
				await writer.flush();
				const wall = ms(process.hrtime.bigint() - withLedger.started);
				const cpu = process.cpuUsage(withLedger.cpu);
				const [total] = await usageReport(store, {
					from: Date.now() - 3_600_000,
					to: Date.now() + 1,
					groupBy: 'none',
					timeZone: 'UTC',
				});
				const perCall = (v: number) => Math.round((v / CALLS) * 1000) / 1000;
				rows.push({
					backend: backend.name,
					calls: CALLS,
					recorded: total.calls,
					missed: writer.missed,
					'wall without (ms)': Math.round(baseWall),
					'wall with (ms)': Math.round(wall),
					'added wall per call (ms)': perCall(wall - baseWall),
					'added CPU per call (ms)': perCall(
						(cpu.user + cpu.system - baseCpu.user - baseCpu.system) / 1000,
					),
					'call waits per call (ms)': perCall(ms(withLedger.waitedNs)),
				});
			} finally {
				await store.close();
			}
		}
		console.table(rows);
		writeResult('ledger', {
			measuredAt: new Date().toISOString(),
			node: process.version,
			calls: CALLS,
			parallel: PARALLEL,
			rows,
		});
	} finally {
		await cleanup();
	}
}

void main().then(
	() => process.exit(0),
	(error) => {
		console.error(error);
		process.exit(1);
	},
);
