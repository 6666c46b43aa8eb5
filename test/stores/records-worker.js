/**
 * A separate OS process (another n8n worker sweeping the Job Queue) for records.race.test.ts: on
 * "go" it sweeps the namespace's due records and tries to claim each by compare-and-set — moved to
 * tag "running", due again in ten minutes, with its own id as owner — until nothing is due.
 */
const { join } = require('node:path');

let store;
let job;

/** The batch in an order of this worker's own, so wins spread over the workers. */
function shuffle(items, seed) {
	for (let i = items.length - 1; i > 0; i--) {
		seed = (seed * 1103515245 + 12345) % 2 ** 31;
		const j = seed % (i + 1);
		[items[i], items[j]] = [items[j], items[i]];
	}
	return items;
}

process.on('message', async (message) => {
	try {
		if (message.type === 'init') {
			job = message;
			// The sources transpiled by the parent (sources.ts), not dist/.
			const { createStore } = require(join(job.sourceDir, 'lib', 'stores'));
			store = createStore(job.config);
			await store.getRecord(job.namespace, 'warm-up'); // connect and create the table before the start signal
			process.send({ type: 'ready' });
		} else if (message.type === 'go') {
			const won = [];
			let lost = 0;
			let sweeps = 0;
			for (;;) {
				const due = await store.dueRecords(job.namespace, job.batch);
				if (!due.length) break;
				sweeps++;
				const versions = await Promise.all(
					shuffle(due, job.worker + sweeps * 31).map((record) =>
						store.putRecord(
							job.namespace,
							record.key,
							{
								value: { ...record.value, owner: job.worker },
								dueAt: Date.now() + 600_000,
								tag: 'running',
								ttlMs: 3_600_000,
							},
							record.version,
						),
					),
				);
				versions.forEach((version, i) => {
					if (version === 0) lost++;
					else won.push([due[i].key, version]);
				});
			}
			await store.close();
			process.send({ type: 'done', won, lost, sweeps }, () => process.exit(0));
		}
	} catch (error) {
		process.send({ type: 'error', message: error.message }, () => process.exit(1));
	}
});
