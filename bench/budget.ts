/**
 * npm run bench:budget — budget operations per second per backend, from one process: memory,
 * SQLite, Redis, Postgres (the local services). One operation is a reserve + settle of one call
 * against one shared budget (lib/ai/budget.ts: two compare-and-set updates of its record), with
 * N callers at once; the callers of one process take turns on the record (lib/stores/update.ts),
 * so this is the throughput one worker gets on one budget. The limit is never reached. Prints a
 * table and writes bench/results/budget.json. BENCH_CALLS changes the count per cell.
 */
import { BudgetBook, type BudgetSpec } from '../lib/ai/budget';
import type { StateStore } from '../lib/stores/types';
import { benchBackends, writeResult } from './backends';

const CALLS = Number(process.env.BENCH_CALLS ?? 2_000);
const CALLERS = [1, 16, 64];
const { runId, backends, cleanup } = benchBackends('budget', { redisDb: 12 });

async function cell(store: StateStore, callers: number): Promise<number> {
	const spec: BudgetSpec = {
		name: `${runId}-${callers}`,
		period: 'day',
		timeZone: 'Europe/Berlin',
		limitUsd: 1e9,
		limitTokens: 0,
		warnPercent: 80,
		unpriced: 'refuse',
	};
	const book = new BudgetBook(store);
	const uses = [{ spec, scopeKey: 'tenant-1' }];
	await book.check(uses[0]); // connect and create tables outside the timing
	let next = 0;
	const started = process.hrtime.bigint();
	await Promise.all(
		Array.from({ length: callers }, async () => {
			while (next++ < CALLS) {
				const r = await book.reserve(uses, { usd: 0.01, tokens: 1000, priced: true }, 60_000);
				if (!r.ok) throw r.refusal;
				await r.hold.settle({ usd: 0.008, tokens: 800, priced: true });
			}
		}),
	);
	const seconds = Number(process.hrtime.bigint() - started) / 1e9;
	const state = await book.check(uses[0]);
	if (Math.abs(state.spentUsd - CALLS * 0.008) > 1e-6 || state.reservedUsd !== 0)
		throw new Error(`budget lost a write: spent ${state.spentUsd}, held ${state.reservedUsd}`);
	return Math.round(CALLS / seconds);
}

async function main() {
	const results: Record<string, Record<string, number | string>> = {};
	try {
		for (const backend of backends) {
			if (!(await backend.reachable())) {
				results[backend.name] = { skipped: 'not reachable' };
				continue;
			}
			const store = backend.open();
			try {
				const row: Record<string, number> = {};
				for (const callers of CALLERS) row[String(callers)] = await cell(store, callers);
				results[backend.name] = row;
			} finally {
				await store.close();
			}
		}
	} finally {
		await cleanup();
	}
	console.log(
		`\nBudget reserve + settle per second, one process, one budget, ${CALLS} calls per cell:`,
	);
	console.log(
		`| Store | ${CALLERS.map((n) => `${n} caller${n > 1 ? 's' : ''}`).join(' | ')} |\n| --- |${CALLERS.map(() => ' --- |').join('')}`,
	);
	for (const [name, r] of Object.entries(results))
		console.log(
			r.skipped
				? `| ${name} | skipped: ${r.skipped} |${CALLERS.slice(1)
						.map(() => ' |')
						.join('')}`
				: `| ${name} | ${CALLERS.map((n) => r[String(n)]).join(' | ')} |`,
		);
	writeResult('budget', { at: new Date().toISOString(), calls: CALLS, callers: CALLERS, results });
}

void main().then(
	() => process.exit(0),
	(error: unknown) => {
		console.error(error);
		process.exit(1);
	},
);
