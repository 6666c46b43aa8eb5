/**
 * Another OS process (another n8n worker) for aiCallState.test.ts: acts on a circuit breaker or
 * reads a cache entry in the same store. Plain JS on the built package (npm test builds first).
 * argv: JSON {config, action, name?, namespace?, key?, failures?}
 */
const { createStore } = require('../../dist/lib/stores');
const { CircuitBreaker } = require('../../dist/lib/breaker');

const job = JSON.parse(process.argv[2]);
const options = {
	consecutiveFailures: 3,
	failureRate: 0,
	minCalls: 10,
	windowMs: 60_000,
	cooldownMs: job.cooldownMs ?? 60_000,
};

(async () => {
	const store = createStore(job.config);
	let result;
	if (job.action === 'fail') {
		const breaker = new CircuitBreaker(store, job.name, options);
		for (let i = 0; i < job.failures; i++) await breaker.record(false, false);
		result = await breaker.state();
	} else if (job.action === 'allow') {
		result = await new CircuitBreaker(store, job.name, options).allow();
	} else if (job.action === 'set') {
		result = await store.set(job.namespace, job.key, job.value, 3_600_000);
	} else if (job.action === 'get') {
		result = (await store.get(job.namespace, job.key)) ?? null;
	}
	await store.close();
	process.stdout.write(JSON.stringify(result ?? null));
})().catch((error) => {
	process.stderr.write(error.message);
	process.exit(1);
});
