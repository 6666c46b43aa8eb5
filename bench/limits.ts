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
import { SharedLimit, type SharedLimitSettings } from '../lib/ai/sharedLimit';
import type { StateStore } from '../lib/stores/types';
import { benchBackends, writeResult } from './backends';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 5_000);
const CALLERS = 16;
const { runId, backends, cleanup } = benchBackends('limits');

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
	try {
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
				await store.close();
			}
		}
	} finally {
		await cleanup();
	}
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
	writeResult('limits', {
		at: new Date().toISOString(),
		decisions: DECISIONS,
		callers: CALLERS,
		results,
	});
}

void main().then(
	() => process.exit(0),
	(error: unknown) => {
		console.error(error);
		process.exit(1);
	},
);
