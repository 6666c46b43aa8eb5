import type { Target, TransportRequest, TransportResponse } from '../../lib/ai/call';
import { AiCallError } from '../../lib/ai/failure';
import { createAiHandler, type RunSettings } from '../../lib/ai/handler';
import type { AiPolicy, AttemptResult, CallContext, CallResult } from '../../lib/ai/policy';
import { costOf } from '../../lib/ai/pricing';
import { CallLimiter } from '../../lib/limit';

const target = (model: string, extra: Partial<Target> = {}): Target => ({
	model,
	provider: 'openai',
	baseUrl: 'http://ai.test/v1',
	credential: 'primary',
	...extra,
});

const callOf = (extra: Partial<CallContext> = {}): CallContext => ({
	item: 3,
	request: {
		model: 'sim-standard',
		messages: [{ role: 'user', content: 'hello' }],
		responseFormat: 'text',
	},
	targets: [target('sim-standard')],
	costTag: 'tag-1',
	workflow: { id: 'wf', name: 'Workflow' },
	executionId: 'ex-1',
	node: 'AI Call',
	attemptTimeoutMs: 10_000,
	...extra,
});

const settings = (extra: Partial<RunSettings> = {}): RunSettings => ({
	totalTimeoutMs: 60_000,
	maxRetries: 2,
	backoff: { baseMs: 0, maxMs: 0 },
	limiter: new CallLimiter(5),
	shape: (outcome, cost) => ({ text: outcome.answer.text, cost }),
	...extra,
});

const answer = (text: string, input: number, output: number, model = 'sim-standard') => ({
	status: 200,
	headers: {},
	text: JSON.stringify({
		model,
		choices: [{ message: { content: text }, finish_reason: 'stop' }],
		usage: { prompt_tokens: input, completion_tokens: output },
	}),
});
const status = (code: number): TransportResponse => ({ status: code, headers: {}, text: '{}' });

/** Answers from a script, one response per call, and records what was asked. */
function scripted(
	...responses: Array<TransportResponse | ((r: TransportRequest) => Promise<TransportResponse>)>
) {
	const requests: TransportRequest[] = [];
	const transport = async (request: TransportRequest) => {
		requests.push(request);
		const next = responses.shift();
		if (!next) throw new Error('no more responses scripted');
		return typeof next === 'function' ? await next(request) : next;
	};
	return { transport, requests };
}

function clock(start = 1_000_000) {
	let t = start;
	return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A policy that records its hooks in `log` (name:hook) and keeps what it was told. */
function recorder(name: string, log: string[], behaviour: Partial<AiPolicy> = {}) {
	const releases: AttemptResult[] = [];
	const results: CallResult[] = [];
	const policy: AiPolicy = {
		name,
		async enter(call, attempt) {
			log.push(`${name}:enter#${attempt.attempt}`);
			const own = await behaviour.enter?.(call, attempt);
			if (own instanceof AiCallError) return own;
			return {
				release: async (r) => {
					log.push(`${name}:release`);
					releases.push(r);
				},
			};
		},
		async done(call, result, a) {
			log.push(`${name}:done`);
			results.push(result);
			return behaviour.done?.(call, result, a);
		},
		...(behaviour.answer ? { answer: behaviour.answer } : {}),
	};
	return { policy, releases, results };
}

describe('AI handler: a call through its policies', () => {
	it('enters every policy in order per attempt, releases them with the outcome, then done with the result', async () => {
		const log: string[] = [];
		const a = recorder('a', log);
		const b = recorder('b', log);
		const c = clock();
		const { transport } = scripted(status(503), async () => {
			c.advance(250);
			return answer('hi', 1000, 500);
		});
		const handler = createAiHandler({
			policies: [a.policy, b.policy],
			transport,
			warn: () => undefined,
			now: c.now,
		});
		const r = await handler.run(callOf(), settings());
		expect(log).toEqual([
			'a:enter#1',
			'b:enter#1',
			'a:release',
			'b:release',
			'a:enter#2',
			'b:enter#2',
			'a:release',
			'b:release',
			'a:done',
			'b:done',
		]);
		expect(a.releases.map((x) => [x.error?.failureClass, x.inputTokens, x.outputTokens])).toEqual([
			['overloaded', 0, 0],
			[undefined, 1000, 500],
		]);
		expect(r).toMatchObject({ ok: true, cached: false, answer: { text: 'hi' } });
		const expected = costOf('sim-standard', 1000, 500, {}, 'tag-1');
		expect(a.results[0]).toEqual({
			outcome: 'success',
			provider: 'openai',
			model: 'sim-standard',
			inputTokens: 1000,
			outputTokens: 500,
			cost: expected,
			latencyMs: 250,
			attempts: 2,
			retries: 1,
			// by failure class, for the retries_total{class} metric
			retryClasses: { overloaded: 1 },
			timeouts: 0,
			fallbackUsed: false,
			at: c.now(),
		});
		expect(expected.totalUsd).toBeGreaterThan(0);
		expect(r.result.cost).toEqual(expected);
		// what the cache keeps is the shaped answer, with the same cost
		expect(r.ok && r.answer.cost).toEqual(expected);
	});

	it('a refusal ends the attempt without a call and releases only the policies entered before it', async () => {
		const log: string[] = [];
		const a = recorder('a', log);
		const refusal = new AiCallError('budget_exceeded', 'spent');
		const b = recorder('b', log, { enter: async () => refusal });
		const c = recorder('c', log);
		const { transport, requests } = scripted();
		const handler = createAiHandler({
			policies: [a.policy, b.policy, c.policy],
			transport,
			warn: () => undefined,
		});
		const r = await handler.run(callOf(), settings());
		expect(requests).toHaveLength(0);
		expect(log).toEqual(['a:enter#1', 'b:enter#1', 'a:release', 'a:done', 'b:done', 'c:done']);
		expect(a.releases).toEqual([{ refused: true, inputTokens: 0, outputTokens: 0 }]);
		expect(r).toMatchObject({ ok: false, error: refusal });
		expect(a.results[0]).toMatchObject({
			outcome: 'failed',
			failureClass: 'budget_exceeded',
			attempts: 0,
			cost: { totalUsd: 0, tag: 'tag-1' },
		});
	});

	it('a thrown AiCallError refuses as well, and a refused transient class is not retried', async () => {
		const log: string[] = [];
		const refusal = new AiCallError('rate_limited', 'our own limit', undefined, 60_000);
		const a = recorder('a', log, {
			enter: async () => {
				throw refusal;
			},
		});
		const { transport, requests } = scripted();
		const handler = createAiHandler({ policies: [a.policy], transport, warn: () => undefined });
		const r = await handler.run(callOf(), settings({ maxRetries: 5 }));
		expect(r).toMatchObject({ ok: false, error: refusal });
		expect(log.filter((l) => l.includes('enter'))).toEqual(['a:enter#1']);
		expect(requests).toHaveLength(0);
	});

	it('a fallback refused on the model takes over, and every answer costs its own model’s price', async () => {
		const log: string[] = [];
		const breakerLike = recorder('breaker', log, {
			enter: async (_call, { target: t }) =>
				t.model === 'sim-standard' ? new AiCallError('circuit_open', 'open') : undefined,
		});
		const { transport, requests } = scripted(answer('from large', 100, 10, 'sim-large'));
		const handler = createAiHandler({
			policies: [breakerLike.policy],
			transport,
			warn: () => undefined,
		});
		const r = await handler.run(
			callOf({
				targets: [target('sim-standard'), target('sim-large', { on: new Set(['circuit_open']) })],
			}),
			settings(),
		);
		expect(requests.map((q) => q.body.model)).toEqual(['sim-large']);
		expect(r.result).toMatchObject({ model: 'sim-large', fallbackUsed: true, attempts: 1 });
		expect(r.result.cost).toEqual(costOf('sim-large', 100, 10, {}, 'tag-1'));
	});

	it('sums the cost of the JSON repair round with the first answer, with price overrides', async () => {
		const overrides = { 'my-model': { input: 10, output: 20 } };
		const { transport } = scripted(answer('not json', 100, 50), answer('{"ok":true}', 200, 60));
		const handler = createAiHandler({
			policies: [],
			transport,
			warn: () => undefined,
			priceOverrides: overrides,
		});
		const r = await handler.run(
			callOf({
				request: { ...callOf().request, model: 'my-model', responseFormat: 'json' },
				targets: [target('my-model')],
			}),
			settings(),
		);
		expect(r.ok).toBe(true);
		expect(r.result.attempts).toBe(2);
		// (300 × 10 + 110 × 20) / 1e6
		expect(r.result.cost).toMatchObject({ totalUsd: 0.0052, priced: true, tag: 'tag-1' });
	});

	it('a failed call carries the cost of the answers it got (the repair that still failed)', async () => {
		const { transport } = scripted(answer('nope', 1000, 0), answer('still nope', 1000, 0));
		const handler = createAiHandler({ policies: [], transport, warn: () => undefined });
		const r = await handler.run(
			callOf({ request: { ...callOf().request, responseFormat: 'json' } }),
			settings(),
		);
		expect(r).toMatchObject({ ok: false, error: { failureClass: 'invalid_output' } });
		expect(r.result.cost).toEqual(costOf('sim-standard', 2000, 0, {}, 'tag-1'));
	});

	it('answers from an answer policy without any attempt, and tells done the cached answer', async () => {
		const log: string[] = [];
		const c = clock();
		const cached = { text: 'from before', model: 'sim-small' };
		const cache = recorder('cache', log, {
			answer: async () => {
				c.advance(3);
				return cached;
			},
		});
		let doneAnswer: unknown;
		const other = recorder('other', log, {
			done: async (_call, _result, a) => {
				doneAnswer = a;
				return { seen: true };
			},
		});
		const { transport, requests } = scripted();
		const handler = createAiHandler({
			policies: [cache.policy, other.policy],
			transport,
			warn: () => undefined,
			now: c.now,
		});
		const r = await handler.run(callOf(), settings());
		expect(requests).toHaveLength(0);
		expect(r).toMatchObject({ ok: true, cached: true, answer: cached, extra: { seen: true } });
		expect(doneAnswer).toBe(cached);
		expect(other.results[0]).toMatchObject({
			outcome: 'cached',
			model: 'sim-small',
			attempts: 0,
			latencyMs: 3,
			cost: { totalUsd: 0, priced: true },
		});
		expect(log).not.toContain('cache:enter#1');
	});

	it.each([
		['failed', 'bad_request'],
		['simulated', 'overloaded'],
	] as const)(
		'an item without a call (%s) still reaches every done, with 0 attempts',
		async (outcome, cls) => {
			const log: string[] = [];
			const asked = jest.fn(async () => ({ text: 'should not be asked' }));
			const a = recorder('a', log, { answer: asked, done: async () => ({ cache: 'ref' }) });
			const { transport, requests } = scripted();
			const handler = createAiHandler({ policies: [a.policy], transport, warn: () => undefined });
			const error = new AiCallError(cls, 'no call');
			const r = await handler.run(callOf(), settings({ noCall: { error, outcome } }));
			expect(requests).toHaveLength(0);
			expect(asked).not.toHaveBeenCalled();
			expect(r).toMatchObject({ ok: false, error, extra: { cache: 'ref' } });
			expect(a.results).toEqual([
				expect.objectContaining({ outcome, failureClass: cls, attempts: 0, model: 'sim-standard' }),
			]);
		},
	);

	it('merges every done’s fields into extra', async () => {
		const log: string[] = [];
		const a = recorder('a', log, { done: async () => ({ budgets: [1] }) });
		const b = recorder('b', log, { done: async () => ({ ledger: 'ok' }) });
		const handler = createAiHandler({
			policies: [a.policy, b.policy],
			transport: scripted(answer('x', 1, 1)).transport,
			warn: () => undefined,
		});
		const r = await handler.run(callOf(), settings());
		expect(r.extra).toEqual({ budgets: [1], ledger: 'ok' });
	});

	it('counts the attempts that timed out, and logs them and the retries with the item’s ids', async () => {
		const warnings: Array<[string, Record<string, unknown>]> = [];
		const hang = ({ signal }: TransportRequest) =>
			new Promise<TransportResponse>((_, reject) =>
				signal.addEventListener('abort', () => reject(new Error('aborted'))),
			);
		const log: string[] = [];
		const a = recorder('a', log);
		const handler = createAiHandler({
			policies: [a.policy],
			transport: scripted(hang, hang).transport,
			warn: (m, meta) => warnings.push([m, meta]),
		});
		const r = await handler.run(callOf({ attemptTimeoutMs: 5 }), settings({ maxRetries: 1 }));
		expect(r).toMatchObject({ ok: false, error: { failureClass: 'timeout' } });
		expect(a.results[0]).toMatchObject({ attempts: 2, timeouts: 2, retries: 1 });
		expect(warnings.map(([m]) => m)).toEqual([
			'AI Call: attempt timed out',
			'AI Call: retrying after a transient failure',
			'AI Call: attempt timed out',
		]);
		expect(warnings[1][1]).toMatchObject({
			workflowId: 'wf',
			executionId: 'ex-1',
			node: 'AI Call',
			item: 3,
			attempt: 1,
			class: 'timeout',
		});
	});
});

describe('AI handler: a failing store never fails the call', () => {
	const down = async (): Promise<never> => {
		throw new Error('connection refused');
	};

	it.each([
		['answer', 'cache', 'AI Call: cache read skipped, the store failed'],
		['enter', 'circuit breaker', 'AI Call: circuit breaker check skipped, the store failed'],
		['release', 'circuit breaker', 'AI Call: circuit breaker update skipped, the store failed'],
		['done', 'last good answer', 'AI Call: last good answer write skipped, the store failed'],
	] as const)(
		'a %s that throws is skipped with a warning naming it',
		async (hook, name, message) => {
			const warnings: Array<[string, Record<string, unknown>]> = [];
			const policy: AiPolicy = {
				name,
				...(hook === 'answer' ? { answer: down } : {}),
				...(hook === 'enter' ? { enter: down } : {}),
				...(hook === 'release' ? { enter: async () => ({ release: down }) } : {}),
				...(hook === 'done' ? { done: down } : {}),
			};
			const { transport, requests } = scripted(answer('still answered', 5, 5));
			const handler = createAiHandler({
				policies: [policy],
				transport,
				warn: (m, meta) => warnings.push([m, meta]),
				storeLabel: 'Redis at 127.0.0.1:1',
			});
			const r = await handler.run(callOf(), settings());
			expect(r).toMatchObject({ ok: true, answer: { text: 'still answered' } });
			expect(requests).toHaveLength(1);
			expect(warnings).toEqual([
				[
					message,
					{
						workflowId: 'wf',
						executionId: 'ex-1',
						node: 'AI Call',
						item: 3,
						store: 'Redis at 127.0.0.1:1',
						error: 'connection refused',
					},
				],
			]);
		},
	);

	it('names a step as the policy asks', async () => {
		const warnings: string[] = [];
		const policy: AiPolicy = {
			name: 'shared limit',
			steps: { enter: 'shared limit' },
			enter: down,
		};
		const handler = createAiHandler({
			policies: [policy],
			transport: scripted(answer('x', 1, 1)).transport,
			warn: (m) => warnings.push(m),
		});
		await handler.run(callOf(), settings());
		expect(warnings).toEqual(['AI Call: shared limit skipped, the store failed']);
	});

	it('a cancelled execution goes on up, releasing what was entered, and no done is called', async () => {
		const abort = new AbortController();
		const log: string[] = [];
		const a = recorder('a', log);
		const cancelled = new Error('cancelled');
		const b: AiPolicy = {
			name: 'b',
			enter: async () => {
				abort.abort(cancelled);
				throw cancelled;
			},
		};
		const { transport, requests } = scripted();
		const handler = createAiHandler({
			policies: [a.policy, b],
			transport,
			warn: () => {
				throw new Error('no warning expected');
			},
		});
		await expect(handler.run(callOf({ signal: abort.signal }), settings())).rejects.toBe(cancelled);
		expect(requests).toHaveLength(0);
		expect(a.releases).toEqual([{ cancelled: true, inputTokens: 0, outputTokens: 0 }]);
		expect(log).not.toContain('a:done');
	});

	it('a cancellation during the attempt releases the policies as cancelled', async () => {
		const abort = new AbortController();
		const log: string[] = [];
		const a = recorder('a', log);
		const cancelled = new Error('cancelled');
		const { transport } = scripted(async () => {
			abort.abort(cancelled);
			throw cancelled;
		});
		const handler = createAiHandler({ policies: [a.policy], transport, warn: () => undefined });
		await expect(handler.run(callOf({ signal: abort.signal }), settings())).rejects.toBe(cancelled);
		expect(a.releases).toEqual([{ cancelled: true, inputTokens: 0, outputTokens: 0 }]);
	});
});
