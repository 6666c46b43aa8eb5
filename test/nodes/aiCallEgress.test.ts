/**
 * AI Call with n8n's SSRF protection on (N8N_SSRF_PROTECTION_ENABLED=true, read by n8n-core's config
 * when this file's module registry first builds it): the simulator on 127.0.0.1 is a blocked
 * destination, so n8n's own request helper refuses every call before it leaves.
 */
process.env.N8N_SSRF_PROTECTION_ENABLED = 'true';

import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { startSimulator, type Simulator } from '../../simulator';
import { pairedIndexes, runNode } from './helpers';

const KEY = 'sk-egress-test-1a2b3c4d';
let sim: Simulator;

beforeAll(async () => {
	sim = await startSimulator({ apiKeys: [KEY] });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const errorOf = (item: INodeExecutionData) => item.json.error as IDataObject;

function ai(baseUrl: string, params: IDataObject = {}, items: IDataObject[] = [{ text: 'hello' }]) {
	return runNode(
		'aiCall',
		{
			model: { mode: 'id', value: 'sim-standard' },
			userPrompt: '={{ $json.text }}',
			...params,
			options: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 50, ...(params.options as object) },
		} as never,
		items,
		{
			credentials: { p: { provider: 'openai', baseUrl, apiKey: KEY } as never },
			nodeCredentials: { aiServiceApi: { id: 'p', name: 'AI' } },
		},
	);
}

describe('AI Call: a destination refused by n8n SSRF protection', () => {
	it('is egress_blocked, not retried, with a reason that says what to allow', async () => {
		const { out, error } = await ai(sim.baseUrl);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [0]]);
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'egress_blocked',
			attempts: 1,
			retries: [],
			retryable: false,
			httpStatus: null,
		});
		expect(errorOf(out[1][0]).message).toBe(
			"n8n's SSRF protection refused 127.0.0.1: allow it in N8N_SSRF_ALLOWED_HOSTNAMES or N8N_SSRF_ALLOWED_IP_RANGES (n8n's environment), or use another Base URL",
		);
		expect(sim.counters().requests).toBe(0);
	});

	it('names the host of the Base URL when a name resolves to a blocked address', async () => {
		const { out } = await ai(sim.baseUrl.replace('127.0.0.1', 'localhost'));
		expect(errorOf(out[1][0]).class).toBe('egress_blocked');
		expect(errorOf(out[1][0]).message).toMatch(/^n8n's SSRF protection refused localhost[ :(]/);
	});

	it('does not count against the circuit breaker', async () => {
		const params = {
			circuitBreaker: true,
			store: 'memory',
			options: { maxConcurrency: 1, breakerConsecutiveFailures: 1, breakerName: 'egress-test' },
		};
		const items = [{ text: 'a' }, { text: 'b' }, { text: 'c' }];
		const { out } = await ai(sim.baseUrl, params, items);
		// a counted failure would open the breaker after the first item (1 failure), the rest circuit_open
		expect(out[1].map((item) => errorOf(item).class)).toEqual([
			'egress_blocked',
			'egress_blocked',
			'egress_blocked',
		]);
	});
});
