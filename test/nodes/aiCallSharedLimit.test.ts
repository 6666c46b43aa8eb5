import { closeAllStores } from '../../lib/stores';
import { startSimulator, type Simulator } from '../../simulator';
import { runAiCall } from './helpers';

let sim: Simulator;
beforeAll(async () => {
	sim = await startSimulator({ seed: 5 });
});
afterAll(async () => {
	await closeAllStores();
	await sim.close();
});
beforeEach(() => {
	sim.reset();
	sim.setFault(undefined);
});

let unique = 0;
const primary = () => ({ provider: 'openai', baseUrl: sim.baseUrl, apiKey: 'sim-key' });
const shared = (extra: Record<string, unknown>) => ({
	store: 'memory',
	sharedLimit: true,
	sharedLimitName: `node-test-${++unique}`,
	sharedRequestsPerMinute: 0,
	sharedMaxInFlight: 0,
	...extra,
});
const texts = (n: number, label: string) =>
	Array.from({ length: n }, (_, i) => ({ text: `${label} ${i}` }));

describe('AI Call with a shared limit', () => {
	it('two executions naming one limit never have more calls in flight at the service than it allows', async () => {
		sim.setFault('latency=150');
		const params = shared({ sharedMaxInFlight: 2, options: { maxConcurrency: 10 } });
		const [a, b] = await Promise.all([
			runAiCall(params, texts(4, 'a'), { primary: primary() }),
			runAiCall({ ...params }, texts(4, 'b'), { primary: primary() }),
		]);
		expect(a.out[0]).toHaveLength(4);
		expect(b.out[0]).toHaveLength(4);
		expect(sim.counters().peakInFlight).toBe(2);
	});

	it('fails an item as rate_limited with retryAfterMs, without a call, when there is no room within Max Wait', async () => {
		const params = shared({ sharedRequestsPerMinute: 1, sharedMaxWaitSeconds: 1 });
		const { out } = await runAiCall(params, texts(2, 'x'), { primary: primary() });
		expect(out[0]).toHaveLength(1);
		const error = out[1][0].json.error as Record<string, unknown>;
		expect(error).toMatchObject({
			class: 'rate_limited',
			retryable: true,
			attempts: 0,
			sharedLimit: params.sharedLimitName,
			store: 'memory',
		});
		expect(error.message).toMatch(/Shared limit "node-test-\d+" \(ours, not the provider's\)/);
		expect(error.retryAfterMs).toBeGreaterThan(50_000);
		expect(sim.counters().requests).toBe(1);
	});

	it('a 429 with Retry-After pauses the limit for the next execution too', async () => {
		const params = shared({
			sharedMaxInFlight: 5,
			sharedMaxWaitSeconds: 0.2,
			options: { maxRetries: 0 },
		});
		sim.setFault('status=429;retry-after=30');
		const first = await runAiCall(params, texts(1, 'p'), { primary: primary() });
		expect((first.out[1][0].json.error as Record<string, unknown>).httpStatus).toBe(429);
		sim.setFault(undefined);
		const requests = sim.counters().requests;
		const second = await runAiCall({ ...params }, texts(1, 'q'), { primary: primary() });
		expect((second.out[1][0].json.error as Record<string, unknown>).message).toMatch(/Retry-After/);
		expect(sim.counters().requests).toBe(requests);
	});

	it('stops on a shared limit without any limit, naming the parameters', async () => {
		const run = await runAiCall(shared({}), texts(1, 'z'), { primary: primary() });
		expect(run.error?.message).toMatch(/no limit: set Requests per Minute/);
	});
});
