/**
 * AI Call against a hostile or failing service: abandoned attempts close their connections, secrets
 * never leave the node, log lines carry their identifiers in the text, hostile answers become
 * classified items. The simulator counts connections on its side of the socket.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { startSimulator, type Simulator } from '../../simulator';
import type { RequestLogEntry } from '../../simulator/server';
import { logLines } from '../harness';
import { pairedIndexes, runNode } from './helpers';

const KEY = 'sk-hardening-primary-5d1c0e7a9b';
const FALLBACK_KEY = 'sk-hardening-fallback-77aa31f0c2';
const EXTRA_TOKEN = 'gw-token-0f1e2d3c4b5a';
let sim: Simulator;

beforeAll(async () => {
	sim = await startSimulator({ apiKeys: [KEY, FALLBACK_KEY], seed: 11 });
});
afterAll(() => sim.close());
beforeEach(async () => {
	await sim.idle(3000);
	sim.reset();
	sim.setFault(undefined);
	logLines.length = 0;
});

type Params = Record<string, unknown>;

function ai(
	params: Params,
	items: IDataObject[],
	creds: { primary?: IDataObject; fallback?: IDataObject } = {},
) {
	const primary = creds.primary ?? { provider: 'openai', baseUrl: sim.baseUrl, apiKey: KEY };
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
			credentials: { p: primary as never, f: (creds.fallback ?? {}) as never },
			nodeCredentials: {
				aiServiceApi: { id: 'p', name: 'AI' },
				...(creds.fallback ? { aiServiceFallbackApi: { id: 'f', name: 'AI fallback' } } : {}),
			},
		},
	);
}

const errorOf = (item: INodeExecutionData) => item.json.error as IDataObject;
const resultOf = (item: INodeExecutionData) => item.json.ai as IDataObject;

/** Requests of one key in the simulator's log, in the order they started. */
const attemptsOf = (log: RequestLogEntry[], key: string) =>
	log.filter((e) => e.key === key).sort((a, b) => a.startedAt - b.startedAt);

describe('AI Call: a timed-out attempt closes its connection', () => {
	it('holds Max Calls in Flight for open connections while answers trickle, and never overlaps retries', async () => {
		const items = [1, 2, 3, 4, 5, 6].map((n) => ({
			text: `slow answer ${n} [[sim:trickle=3000;key=t${n}]]`,
		}));
		const { out, error } = await ai(
			{
				timeoutPreset: 'custom',
				timeoutMs: 250,
				options: { maxConcurrency: 2, maxRetries: 1, totalTimeoutMs: 5000 },
			},
			items,
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [0, 1, 2, 3, 4, 5]]);
		for (const item of out[1])
			expect(errorOf(item)).toMatchObject({ class: 'timeout', attempts: 2 });

		await sim.idle(1000);
		const counters = sim.counters();
		expect(counters.peakOpenConnections).toBeLessThanOrEqual(2);
		expect(counters.openConnections).toBe(0);
		const log = sim.requestLog();
		expect(log).toHaveLength(12);
		for (const entry of log) {
			// abandoned by the client, not finished (and billed in full) by the service
			expect(entry.outcome).toBe('aborted');
			expect(entry.endedAt! - entry.startedAt).toBeLessThan(250 + 400);
		}
		for (const n of [1, 2, 3, 4, 5, 6]) {
			const [first, second] = attemptsOf(log, `t${n}`);
			expect(second.startedAt).toBeGreaterThanOrEqual(first.endedAt!);
		}
	});

	it('a hang before the headers is closed at the timeout as well', async () => {
		const { out } = await ai(
			{ timeoutPreset: 'custom', timeoutMs: 200, options: { maxRetries: 0, maxConcurrency: 1 } },
			[{ text: 'hello [[sim:hang;key=h1]]' }, { text: 'hello [[sim:hang;key=h2]]' }],
		);
		expect(pairedIndexes(out)).toEqual([[], [0, 1]]);
		await sim.idle(1000);
		expect(sim.counters().peakOpenConnections).toBe(1);
		const log = sim.requestLog();
		expect(log.map((e) => e.outcome)).toEqual(['hang', 'hang']);
		for (const entry of log) expect(entry.endedAt! - entry.startedAt).toBeLessThan(200 + 400);
	});
});
