/**
 * Budgets under real concurrency: 8 OS processes, each with 4 callers at once and its own
 * connection, reserve and settle calls of random cost against one budget of limit L, with
 * estimates ≥ actual costs. The budget must never be overshot (spent ≤ L), must hold exactly the
 * sum of the settled costs, and must admit as many calls as the estimates allow: every caller
 * stops only on a refusal while nothing was held anywhere, so its call truly did not fit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { BudgetBook, type BudgetSpec } from '../../lib/ai/budget';
import { createStore, type StoreConfig } from '../../lib/stores';
import { backends, describeWithService, type Backend } from './backends';
import { transpileStores, type Sources } from './sources';
import { waitFor as waitForMessage } from './workers';

const WORKERS = 8;
const LOOPS = 4;
const LIMIT_USD = 2;
/** Estimates in micro-dollars; actual costs are 50–100 % of them. */
const MIN_MICROS = 1_000;
const MAX_MICROS = 10_000;
const REDIS_DB = 12;
const PG_TABLE = 'ai_patterns_budget_test';

type Done = {
	type: 'done';
	admitted: number;
	settledMicros: number;
	waits: number;
	warnings: number;
	finalEstimates: number[];
};
type Message = { type: 'ready' } | Done | { type: 'error'; message: string };

const waitFor = <T extends Message['type']>(child: ChildProcess, type: T) =>
	waitForMessage<Message, T>(child, type);

const runId = `${process.pid}_${Date.now().toString(36)}`;

interface RaceBackend extends Backend {
	/** What the workers and the parent open: the same data. */
	config(): StoreConfig;
}

/** SQLite, and Redis and Postgres moved to this suite's database and table. */
const raceBackends: RaceBackend[] = backends({
	redisDb: REDIS_DB,
	keyPrefix: `aip-budget-${runId}`,
	table: PG_TABLE,
})
	.filter((backend) => backend.kind !== 'memory')
	.map((backend) => ({
		...backend,
		config: () =>
			({
				...backend.workerConfig(),
				// Eight processes queue for one write lock: give them longer than the 5 s default.
				...(backend.kind === 'local' ? { busyTimeoutMs: 30_000 } : {}),
			}) as StoreConfig,
	}));

describe.each(raceBackends)('$name: one budget, many workers', (backend: RaceBackend) => {
	describeWithService(
		backend.service ?? '',
		backend.available,
		`${backend.name}: ${WORKERS} processes × ${LOOPS} callers reserve and settle against one budget`,
		() => {
			const children: ChildProcess[] = [];
			let sources: Sources;
			beforeAll(() => {
				// the budget's code next to the stores, so workers race the sources under test
				sources = transpileStores([
					'lib/ai/budget.ts',
					'lib/ai/failure.ts',
					'lib/metrics/status.ts',
				]);
			});
			afterAll(async () => {
				for (const child of children) if (child.exitCode === null) child.kill();
				sources?.cleanup();
				await backend.cleanup();
			});

			it('never overshoots, spends exactly the settled costs, and admits every call that fits', async () => {
				const spec: BudgetSpec = {
					name: `race-${runId}`,
					// one record for the whole run, whatever the clock says (a day could end mid-test)
					period: 'rolling',
					rollingMs: 86_400_000,
					timeZone: 'UTC',
					limitUsd: LIMIT_USD,
					limitTokens: 0,
					warnPercent: 80,
					unpriced: 'refuse',
				};
				const scopeKey = 'tenant "α" / with:odd\u0000text';

				for (let w = 0; w < WORKERS; w++)
					children.push(
						fork(join(__dirname, 'budget-worker.js'), [], {
							execArgv: ['--disable-warning=ExperimentalWarning'],
							env: sources.env,
						}),
					);
				const ready = children.map((child) => waitFor(child, 'ready'));
				const done = children.map((child) => waitFor(child, 'done'));
				children.forEach((child, worker) =>
					child.send({
						type: 'init',
						config: backend.config(),
						sourceDir: sources.dir,
						spec,
						scopeKey,
						seed: 7919 * (worker + 1) + Date.now(),
						loops: LOOPS,
						minMicros: MIN_MICROS,
						maxMicros: MAX_MICROS,
					}),
				);
				await Promise.all(ready);
				const started = Date.now();
				for (const child of children) child.send({ type: 'go' });
				const results = await Promise.all(done);
				const seconds = (Date.now() - started) / 1000;

				const store = createStore(backend.config());
				try {
					const state = await new BudgetBook(store).check({ spec, scopeKey });
					const settledUsd = results.reduce((sum, r) => sum + r.settledMicros, 0) / 1e6;
					const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
					const finals = results.flatMap((r) => r.finalEstimates);
					const overshootUsd = Math.max(0, state.spentUsd - LIMIT_USD);
					const headroomUsd = LIMIT_USD - state.spentUsd;
					process.stderr.write(
						`${backend.name}: ${admitted} calls admitted in ${seconds.toFixed(1)} s ` +
							`(per worker ${results.map((r) => r.admitted).join('/')}), ` +
							`${results.reduce((s, r) => s + r.waits, 0)} refusals while others held room, ` +
							`spent $${state.spentUsd.toFixed(6)} of $${LIMIT_USD}: overshoot $${overshootUsd.toFixed(6)}, ` +
							`unused headroom $${headroomUsd.toFixed(6)} (smallest final estimate $${(Math.min(...finals) / 1e6).toFixed(6)})\n`,
					);

					expect(state.reservedUsd).toBe(0); // every hold was settled
					expect(state.spentUsd).toBeLessThanOrEqual(LIMIT_USD);
					expect(overshootUsd).toBe(0);
					expect(state.spentUsd).toBeCloseTo(settledUsd, 6);
					// Maximal: every caller stopped on a call that did not fit what was left, and spend
					// only grows, so no stopped caller's call would fit now either.
					expect(finals).toHaveLength(WORKERS * LOOPS);
					for (const estimate of finals)
						expect(state.spentUsd + estimate / 1e6).toBeGreaterThan(LIMIT_USD);
					expect(admitted).toBeGreaterThan(LIMIT_USD / (MAX_MICROS / 1e6));
					// The warning crossed 80 % once, and exactly one of all the workers reported it.
					expect(results.reduce((sum, r) => sum + r.warnings, 0)).toBe(1);
					expect(['warn', 'exceeded']).toContain(state.status);
				} finally {
					await store.close();
				}
			}, 120_000);
		},
	);
});
