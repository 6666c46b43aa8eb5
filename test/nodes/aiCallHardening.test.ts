/**
 * AI Call against a hostile or failing service: abandoned attempts close their connections, secrets
 * never leave the node, log lines carry their identifiers in the text, hostile answers become
 * classified items. The simulator counts connections on its side of the socket.
 */
import type { IDataObject, INodeExecutionData } from 'n8n-workflow';

import { startSimulator, type Simulator } from '../../simulator';
import type { RequestLogEntry } from '../../simulator/server';
import { logLines } from '../harness';
import { pairedIndexes, runAiCall } from './helpers';

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
	return runAiCall(params, items, { primary, fallback: creds.fallback }, 'AI Call');
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
			// closed at the timeout (slack for a loaded machine), long before the 3 s the service needs
			expect(entry.endedAt! - entry.startedAt).toBeLessThan(250 + 1000);
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
		for (const entry of log) expect(entry.endedAt! - entry.startedAt).toBeLessThan(200 + 1000);
	});
});

describe('AI Call: secrets never leave the node', () => {
	it('redacts keys and extra header values a service echoes into errors, answers and logs', async () => {
		const primary = {
			provider: 'openai',
			baseUrl: sim.baseUrl,
			apiKey: KEY,
			extraHeaders: JSON.stringify({ 'X-Gateway-Token': EXTRA_TOKEN }),
		};
		const fallback = { provider: 'openai', baseUrl: sim.baseUrl, apiKey: FALLBACK_KEY };
		const { out, runs, error } = await ai(
			{
				useFallbackCredential: true,
				fallbacks: {
					fallback: [{ model: 'sim-small', credential: 'fallback', on: ['server_error'] }],
				},
				options: { maxRetries: 1 },
			},
			[
				{ text: 'a [[sim:echo-key;status=400;key=e400]]' },
				{ text: 'b [[sim:echo-key;status=500;key=e500]]' },
				{ text: 'c [[sim:echo-key;key=e200]]' },
			],
			{ primary, fallback },
		);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[2], [0, 1]]);
		// the service really did echo them: 400 once, 500 twice per credential, 200 once
		expect(sim.counters().byKey).toEqual({ e400: 1, e500: 4, e200: 1 });
		expect(errorOf(out[1][0])).toMatchObject({ class: 'bad_request', httpStatus: 400 });
		expect(errorOf(out[1][1])).toMatchObject({ class: 'server_error', model: 'sim-small' });
		expect(String(errorOf(out[1][0]).message)).toContain('[redacted]');
		expect(String(resultOf(out[0][0]).text)).toMatch(/^Category: .*\[redacted\]/);

		const emitted = JSON.stringify({ out, runs, logLines });
		for (const secret of [KEY, FALLBACK_KEY, EXTRA_TOKEN]) expect(emitted).not.toContain(secret);
		expect(logLines.some((l) => l.message.includes('class server_error, HTTP 500'))).toBe(true);
	});
});

describe('AI Call: log lines name what an operator needs in the text', () => {
	it('a retry line and a timeout line carry workflow, execution, node, item, model, attempt, class, status and wait', async () => {
		await ai({ timeoutPreset: 'custom', timeoutMs: 150, options: { maxRetries: 1 } }, [
			{ text: 'ok' },
			{ text: 'x [[sim:status=500;fail-first=1;key=l1]]' },
			{ text: 'y [[sim:hang;key=l2]]' },
		]);
		const ours = logLines.filter((l) => l.message.startsWith('AI Call')).map((l) => l.message);
		expect(ours).toEqual(
			expect.arrayContaining([
				expect.stringMatching(
					/^AI Call: retrying after a transient failure \(workflow harness-workflow, execution \d+, node "AI Call", item 1, model sim-standard, attempt 1, class server_error, HTTP 500, wait \d+ ms\)$/,
				),
				expect.stringMatching(
					/^AI Call: attempt timed out \(workflow harness-workflow, execution \d+, node "AI Call", item 2, model sim-standard, attempt 1, class timeout, timeout 150 ms\)$/,
				),
				expect.stringMatching(
					/^AI Call: retrying after a transient failure \(.*item 2, model sim-standard, attempt 1, class timeout, wait \d+ ms\)$/,
				),
			]),
		);
		const retry = logLines.find((l) => l.message.includes('class server_error'));
		expect(retry?.meta).toMatchObject({ item: 1, class: 'server_error', httpStatus: 500 });
	});
});

describe('AI Call: hostile answers become classified items', () => {
	const once = { options: { maxRetries: 0 } };

	it.each([
		['not-object', /not in the OpenAI chat completion format/],
		['null', /not in the OpenAI chat completion format/],
		['choices-string', /not in the OpenAI chat completion format/],
		['non-utf8', /not valid UTF-8/],
		['huge', /larger than 16 MiB/],
	])('hostile=%s → Failed as server_error', async (variant, message) => {
		const { out, error } = await ai(once, [{ text: `h [[sim:hostile=${variant}]]` }]);
		expect(error).toBeUndefined();
		expect(pairedIndexes(out)).toEqual([[], [0]]);
		expect(errorOf(out[1][0])).toMatchObject({ class: 'server_error', httpStatus: 200 });
		expect(String(errorOf(out[1][0]).message)).toMatch(message);
	});

	it('stops reading a huge body at the cap and closes the connection', async () => {
		await ai(once, [{ text: 'h [[sim:hostile=huge]]' }]);
		await sim.idle(2000);
		const log = sim.requestLog();
		expect(log.map((e) => e.outcome)).toEqual(['aborted']);
		// its connection is closed (others may stay open, kept alive for the next calls)
		expect(log[0].connectionClosedAt).toEqual(expect.any(Number));
	});

	it.each([
		['usage-strings', 0, 0],
		['usage-negative', 0, 0],
		['usage-huge', 1_000_000_000, 1_000_000_000],
	])('hostile=%s → Success with sane token counts and cost', async (variant, input, output) => {
		const { out } = await ai(once, [{ text: `h [[sim:hostile=${variant}]]` }]);
		expect(pairedIndexes(out)).toEqual([[0], []]);
		const r = resultOf(out[0][0]);
		expect(r.usage).toEqual({
			inputTokens: input,
			outputTokens: output,
			totalTokens: input + output,
		});
		const cost = r.cost as IDataObject;
		expect(Number.isFinite(cost.totalUsd)).toBe(true);
		expect(cost.totalUsd as number).toBeGreaterThanOrEqual(0);
	});

	it('a negative usage never credits the budget', async () => {
		const { out } = await ai(
			{ options: { maxRetries: 0, budgetUsd: 0.0000001, maxConcurrency: 1 } },
			[{ text: 'first [[sim:hostile=usage-negative]]' }, { text: 'second' }, { text: 'third' }],
		);
		// the first answer costs 0, the second spends the budget, the third is refused
		expect(pairedIndexes(out)).toEqual([[0, 1], [2]]);
		expect(errorOf(out[1][0]).class).toBe('budget_exceeded');
	});

	it('caps a Retry-After of 1e20 seconds at 24 h and reports it instead of waiting', async () => {
		const { out } = await ai({}, [
			{ text: 'h [[sim:status=429;retry-after=100000000000000000000;key=ra]]' },
		]);
		expect(errorOf(out[1][0])).toMatchObject({
			class: 'rate_limited',
			attempts: 1,
			retryAfterMs: 86_400_000,
		});
		expect(sim.counters().byKey.ra).toBe(1);
	});
});
