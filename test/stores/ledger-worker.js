/**
 * A separate OS process (another n8n worker writing the usage ledger) for ledger.race.test.ts: on
 * "go" it writes the batches it was given — each one addCounters and one appendEvents — a few in
 * flight at once, then reports how many it wrote.
 */
const { join } = require('node:path');

let store;
let job;

process.on('message', async (message) => {
	try {
		if (message.type === 'init') {
			job = message;
			// The sources transpiled by the parent (sources.ts), not dist/.
			const { createStore } = require(join(job.sourceDir, 'lib', 'stores'));
			store = createStore(job.config);
			await store.readCounters(job.namespace, 0, 1); // connect and create the tables before the start signal
			process.send({ type: 'ready' });
		} else if (message.type === 'go') {
			let next = 0;
			let written = 0;
			const lane = async () => {
				while (next < job.batches.length) {
					const { adds, events } = job.batches[next++];
					await store.addCounters(job.namespace, adds, job.ttlMs);
					await store.appendEvents(job.namespace, events, job.ttlMs);
					written++;
				}
			};
			await Promise.all(Array.from({ length: job.inFlight }, lane));
			await store.close();
			process.send({ type: 'done', written }, () => process.exit(0));
		}
	} catch (error) {
		process.send({ type: 'error', message: error.message }, () => process.exit(1));
	}
});
