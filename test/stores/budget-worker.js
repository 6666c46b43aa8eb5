/**
 * A separate OS process (another n8n worker) for budget.race.test.ts: on "go", `loops` callers
 * at once each make calls of random cost against one budget — reserve the estimate, settle an
 * actual cost of at most the estimate — until a call is refused while no reservation at all is
 * held (nothing in flight anywhere could still give room back): then that call truly did not fit.
 * Costs are whole micro-dollars, so the parent can sum them exactly.
 */
const { join } = require('node:path');

let store;
let book;
let job;

/** A small seeded generator, so each worker's costs are its own. */
function generator(seed) {
	let s = seed >>> 0 || 1;
	return () => {
		s ^= s << 13;
		s ^= s >>> 17;
		s ^= s << 5;
		return (s >>> 0) / 2 ** 32;
	};
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

process.on('message', async (message) => {
	try {
		if (message.type === 'init') {
			job = message;
			// The sources transpiled by the parent (sources.ts and the budget files), not dist/.
			const { createStore } = require(join(job.sourceDir, 'lib', 'stores'));
			const { BudgetBook } = require(join(job.sourceDir, 'lib', 'ai', 'budget'));
			store = createStore(job.config);
			book = new BudgetBook(store);
			await book.check({ spec: job.spec, scopeKey: job.scopeKey }); // connect before the start signal
			process.send({ type: 'ready' });
		} else if (message.type === 'go') {
			const random = generator(job.seed);
			const uses = [{ spec: job.spec, scopeKey: job.scopeKey }];
			const result = { admitted: 0, settledMicros: 0, waits: 0, warnings: 0, finalEstimates: [] };
			const caller = async () => {
				for (;;) {
					const estimate = job.minMicros + Math.floor(random() * (job.maxMicros - job.minMicros));
					const actual = Math.max(1, Math.floor(estimate * (0.5 + random() * 0.5)));
					for (;;) {
						const r = await book.reserve(
							uses,
							{ usd: estimate / 1e6, tokens: 100, priced: true },
							60_000,
						);
						if (r.ok) {
							result.warnings += r.warnings.length;
							await pause(random() * 2); // the "call"
							const settled = await r.hold.settle({ usd: actual / 1e6, tokens: 80, priced: true });
							result.warnings += settled.warnings.length;
							result.admitted++;
							result.settledMicros += actual;
							break;
						}
						if (r.refusal.budget.reservedUsd === 0) {
							// final: spent alone leaves no room for this estimate
							result.finalEstimates.push(estimate);
							return;
						}
						result.waits++; // others' holds may settle lower: try the same call again
						await pause(random() * 3);
					}
				}
			};
			await Promise.all(Array.from({ length: job.loops }, caller));
			await store.close();
			process.send({ type: 'done', ...result }, () => process.exit(0));
		}
	} catch (error) {
		process.send({ type: 'error', message: error.stack || error.message }, () => process.exit(1));
	}
});
