/**
 * A separate OS process for concurrency.test.ts: its own store connection, which claims every key
 * it was given at once when the parent says "go". Plain JS on the store sources the parent
 * transpiled (sources.ts), so it runs without jest and tests the current code.
 */
const { join } = require('node:path');

let store;
let job;

process.on('message', async (message) => {
	try {
		if (message.type === 'init') {
			job = message;
			const { createStore } = require(join(job.sourceDir, 'lib', 'stores'));
			store = createStore(job.config);
			await store.read(job.namespace, 'warm-up'); // connect and create the table before the start signal
			process.send({ type: 'ready' });
		} else if (message.type === 'go') {
			const outcomes = await Promise.all(
				job.keys.map(async (key) => {
					const { outcome, record } = await store.claim(job.namespace, key, { leaseMs: 60_000 });
					return [key, outcome, record.token];
				}),
			);
			await store.close();
			process.send({ type: 'done', outcomes }, () => process.exit(0));
		}
	} catch (error) {
		process.send({ type: 'error', message: error.message }, () => process.exit(1));
	}
});
