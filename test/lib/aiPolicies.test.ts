import { breakerPolicy } from '../../lib/ai/breakerPolicy';
import {
	cacheKey,
	cachePolicies,
	lastGoodNamespace,
	readCached,
	type ItemCache,
} from '../../lib/ai/cache';
import type { Target } from '../../lib/ai/call';
import { executionBudget } from '../../lib/ai/executionBudget';
import { AiCallError } from '../../lib/ai/failure';
import { limitPolicy } from '../../lib/ai/limitPolicy';
import type {
	AiPolicy,
	AttemptContext,
	AttemptResult,
	CallContext,
	CallResult,
	Entry,
} from '../../lib/ai/policy';
import { costOf } from '../../lib/ai/pricing';
import { LimitRefusal, SharedLimit } from '../../lib/ai/sharedLimit';
import { MemoryStore } from '../../lib/stores/memory';

function clock(start = 1_700_000_000_000) {
	let t = start;
	return { now: () => t, advance: (ms: number) => (t += ms) };
}

const target = (model = 'sim-standard', baseUrl = 'http://ai.test/v1'): Target => ({
	model,
	provider: 'openai',
	baseUrl,
	credential: 'primary',
});

let items = 0;
const callOf = (extra: Partial<CallContext> = {}): CallContext => ({
	item: items++,
	request: {
		model: 'sim-standard',
		messages: [{ role: 'user', content: 'hello' }],
		responseFormat: 'text',
	},
	targets: [target()],
	costTag: null,
	workflow: { id: 'wf', name: 'Workflow' },
	executionId: 'ex',
	node: 'AI Call',
	attemptTimeoutMs: 10_000,
	...extra,
});

const attemptOf = (t: Target = target(), estimatedTokens = 100): AttemptContext => ({
	target: t,
	attempt: 1,
	estimatedTokens,
	estimatedInputTokens: estimatedTokens - 10,
	maxOutputTokens: 10,
});

const resultOf = (outcome: CallResult['outcome'], at: number): CallResult => ({
	outcome,
	provider: 'openai',
	model: 'sim-standard',
	inputTokens: 0,
	outputTokens: 0,
	cost: costOf('sim-standard', 0, 0, {}, null),
	latencyMs: 0,
	attempts: outcome === 'success' ? 1 : 0,
	retries: 0,
	timeouts: 0,
	fallbackUsed: false,
	at,
});

const answered = (inputTokens = 0, outputTokens = 0): AttemptResult => ({
	inputTokens,
	outputTokens,
});
const failedWith = (error: AiCallError): AttemptResult => ({
	error,
	inputTokens: 0,
	outputTokens: 0,
});
const refused: AttemptResult = { refused: true, inputTokens: 0, outputTokens: 0 };

/** Enters the policy for one attempt and settles it with `result`; returns the refusal, if any. */
async function attempt(
	policy: AiPolicy,
	result: AttemptResult,
	call = callOf(),
	at = attemptOf(),
): Promise<AiCallError | undefined> {
	const entry: Entry = await policy.enter!(call, at);
	if (entry instanceof AiCallError) return entry;
	await entry?.release?.(result);
	return undefined;
}

describe('cache policies (lib/ai/cache.ts)', () => {
	const setup = (item: Partial<ItemCache> = {}) => {
		const c = clock();
		const store = new MemoryStore({ now: c.now });
		const namespace = `ns-${items}`;
		const [cache, lastGood] = cachePolicies({
			store,
			entryFor: () => ({ namespace, ttlMs: 60_000, lastGoodMs: 3_600_000, ...item }),
		});
		return { c, store, namespace, cache, lastGood };
	};
	const answer = { text: 'hi', model: 'sim-standard', cached: false };

	it('writes a success to the cache and the last good answers; the next call is answered from the cache', async () => {
		const { c, store, namespace, cache, lastGood } = setup({ key: 'doc-1' });
		const call = callOf();
		expect(await cache.answer!(call)).toBeNull() // looked, missed: counted as a cache miss;
		await cache.done!(call, resultOf('success', c.now()), answer);
		await lastGood.done!(call, resultOf('success', c.now()), answer);
		expect(await store.get(namespace, 'doc-1')).toEqual({ ...answer, storedAt: c.now() });
		expect(await store.get(lastGoodNamespace(namespace), 'doc-1')).toEqual({
			...answer,
			storedAt: c.now(),
		});
		c.advance(1000);
		expect(await cache.answer!(callOf())).toEqual({
			...answer,
			cachedAt: new Date(c.now() - 1000).toISOString(),
		});
	});

	it('a fresh entry ends with its TTL; the last good answer stays, for the Router, as stale', async () => {
		const { c, store, namespace, cache, lastGood } = setup({ key: 'k' });
		for (const p of [cache, lastGood])
			await p.done!(callOf(), resultOf('success', c.now()), answer);
		c.advance(60_001);
		expect(await cache.answer!(callOf())).toBeNull();
		expect(await readCached(store, { namespace, key: 'k' })).toEqual({
			value: { ...answer, storedAt: c.now() - 60_001 },
			stale: true,
			storedAt: c.now() - 60_001,
		});
	});

	it('force refresh calls again (and overwrites); with the cache off only last good answers are kept', async () => {
		const refresh = setup({ key: 'k', forceRefresh: true });
		await refresh.cache.done!(callOf(), resultOf('success', refresh.c.now()), answer);
		expect(await refresh.cache.answer!(callOf())).toBeUndefined();
		expect(await refresh.store.get(refresh.namespace, 'k')).toBeDefined();

		const off = setup({ key: 'k', ttlMs: undefined });
		for (const p of [off.cache, off.lastGood])
			await p.done!(callOf(), resultOf('success', off.c.now()), answer);
		expect(await off.store.get(off.namespace, 'k')).toBeUndefined();
		expect(await off.store.get(lastGoodNamespace(off.namespace), 'k')).toBeDefined();
		expect(await off.cache.answer!(callOf())).toBeUndefined();
	});

	it('names the entry on failed and simulated items, and writes nothing for them', async () => {
		const { c, store, namespace, cache, lastGood } = setup();
		const call = callOf();
		const key = cacheKey(undefined, {
			provider: 'openai',
			baseUrl: 'http://ai.test/v1',
			request: call.request,
		});
		for (const outcome of ['failed', 'simulated'] as const) {
			expect(await cache.done!(call, resultOf(outcome, c.now()))).toEqual({
				cache: { namespace, key },
			});
			expect(await lastGood.done!(call, resultOf(outcome, c.now()))).toEqual({
				cache: { namespace, key },
			});
		}
		expect(await readCached(store, { namespace, key })).toBeUndefined();
	});

	it('keys by the user’s key, else by provider, Base URL and request', () => {
		const request = callOf().request;
		const at = (baseUrl: string, text = 'hello') =>
			cacheKey(undefined, {
				provider: 'openai',
				baseUrl,
				request: { ...request, messages: [{ role: 'user', content: text }] },
			});
		expect(at('http://a/v1')).toBe(at('http://a/v1'));
		expect(at('http://a/v1')).not.toBe(at('http://b/v1'));
		expect(at('http://a/v1')).not.toBe(at('http://a/v1', 'other'));
		const hostile = '\u0000'.repeat(3) + 'k'.repeat(10_000);
		expect(cacheKey(hostile, { provider: 'openai', baseUrl: 'x', request })).toBe(hostile);
	});

	it('what another writer left that is not an answer counts as absent; a broken storedAt as unknown', async () => {
		const { store, namespace, cache } = setup({ key: 'k' });
		for (const garbage of ['text', 42, ['a'], null]) {
			await store.set(namespace, 'k', garbage, 60_000);
			expect(await cache.answer!(callOf())).toBeNull();
		}
		await store.set(lastGoodNamespace(namespace), 'k', { text: 'old' }, 60_000);
		expect(await readCached(store, { namespace, key: 'k' })).toMatchObject({
			value: { text: 'old' },
			stale: true,
			storedAt: undefined,
		});
		await store.set(namespace, 'k', { text: 'x', storedAt: 1e300 }, 60_000);
		expect(await cache.answer!(callOf())).toEqual({ text: 'x', cachedAt: null });
	});
});

describe('circuit breaker policy', () => {
	const setup = (name?: string) => {
		const c = clock();
		const store = new MemoryStore({ now: c.now });
		const policy = breakerPolicy({
			store,
			name,
			options: {
				consecutiveFailures: 2,
				failureRate: 0,
				minCalls: 10,
				windowMs: 60_000,
				cooldownMs: 5_000,
				now: c.now,
			},
		});
		return { c, policy };
	};
	const overloaded = new AiCallError('overloaded', 'HTTP 503', 503);

	it('opens after consecutive transient failures: the next attempt is refused as circuit_open', async () => {
		const { policy } = setup();
		expect(await attempt(policy, failedWith(overloaded))).toBeUndefined();
		expect(await attempt(policy, failedWith(overloaded))).toBeUndefined();
		const refusal = await attempt(policy, answered());
		expect(refusal).toMatchObject({ failureClass: 'circuit_open', retryAfterMs: 5_000 });
		expect(refusal?.message).toMatch(/circuit breaker for sim-standard is open/);
	});

	it('does not count answers such as a 400, egress refusals or attempts refused after it', async () => {
		const { c, policy } = setup();
		for (const r of [
			failedWith(new AiCallError('bad_request', 'HTTP 400', 400)),
			failedWith(new AiCallError('egress_blocked', 'SSRF')),
			refused,
			{ cancelled: true, inputTokens: 0, outputTokens: 0 },
		]) {
			expect(await attempt(policy, failedWith(overloaded))).toBeUndefined();
			expect(await attempt(policy, r)).toBeUndefined();
			expect(await attempt(policy, answered())).toBeUndefined(); // a success starts the count again
			c.advance(1); // a new run of failures is keyed by its start time
		}
	});

	it('one breaker per model and Base URL, or per name and model', async () => {
		const { policy } = setup();
		for (let i = 0; i < 2; i++) await attempt(policy, failedWith(overloaded));
		expect(await attempt(policy, answered(), callOf(), attemptOf(target('sim-large')))).toBe(
			undefined,
		);
		expect(
			await attempt(policy, answered(), callOf(), attemptOf(target('sim-standard', 'http://b/v1'))),
		).toBeUndefined();

		const named = setup('shared').policy;
		for (let i = 0; i < 2; i++) await attempt(named, failedWith(overloaded));
		// the same name on another Base URL is the same breaker
		expect(
			await attempt(named, answered(), callOf(), attemptOf(target('sim-standard', 'http://b/v1'))),
		).toMatchObject({ failureClass: 'circuit_open' });
	});

	it('after the cooldown one probe goes through; refused by a later policy, it goes back at once', async () => {
		const { c, policy } = setup();
		for (let i = 0; i < 2; i++) await attempt(policy, failedWith(overloaded));
		c.advance(5_000);
		const probe = await policy.enter!(callOf(), attemptOf());
		expect(probe).not.toBeInstanceOf(AiCallError);
		// a second caller meanwhile: the probe is taken
		expect(await policy.enter!(callOf(), attemptOf())).toMatchObject({
			failureClass: 'circuit_open',
		});
		await (probe as { release: (r: AttemptResult) => Promise<void> }).release(refused);
		// the probe was given back without a verdict: the next caller probes, and its success closes it
		expect(await attempt(policy, answered())).toBeUndefined();
		expect(await attempt(policy, answered())).toBeUndefined();
	});
});

describe('execution budget policy', () => {
	let n = 0;
	const key = () => `ex-${++n}:node`;

	it('refuses once the answers cost the budget, with the spend in the message', async () => {
		const k = key();
		const policy = executionBudget({ key: k, budgetUsd: 0.001, overrides: {} });
		// sim-standard: 1 USD per million input tokens
		expect(await attempt(policy, answered(600, 0))).toBeUndefined();
		expect(await attempt(policy, answered(600, 0))).toBeUndefined();
		const refusal = await attempt(policy, answered(600, 0));
		expect(refusal).toMatchObject({ failureClass: 'budget_exceeded' });
		expect(refusal?.message).toBe(
			'The budget of 0.001 USD for this execution is spent (0.0012 USD)',
		);
	});

	it('holds across the runs of a loop (the same key) but not for another execution', async () => {
		const k = key();
		await attempt(executionBudget({ key: k, budgetUsd: 0.001, overrides: {} }), answered(1000, 0));
		const again = executionBudget({ key: k, budgetUsd: 0.001, overrides: {} });
		expect(await attempt(again, answered())).toMatchObject({ failureClass: 'budget_exceeded' });
		const other = executionBudget({ key: key(), budgetUsd: 0.001, overrides: {} });
		expect(await attempt(other, answered())).toBeUndefined();
	});

	it('counts each answer at its own model’s price, with overrides; failures and refusals cost nothing', async () => {
		const k = key();
		const policy = executionBudget({
			key: k,
			budgetUsd: 0.001,
			overrides: { 'my-model': { input: 1000, output: 0 } },
		});
		for (const r of [failedWith(new AiCallError('server_error', 'x')), refused])
			expect(await attempt(policy, r)).toBeUndefined();
		expect(await attempt(policy, answered())).toBeUndefined();
		// 1 token at 1000 USD per million = 0.001 USD: spent
		await attempt(policy, answered(1, 0), callOf(), attemptOf(target('my-model')));
		expect(await attempt(policy, answered())).toMatchObject({ failureClass: 'budget_exceeded' });
	});

	it('without a budget counts but never refuses', async () => {
		const policy = executionBudget({ key: key(), budgetUsd: 0, overrides: {} });
		for (let i = 0; i < 3; i++) expect(await attempt(policy, answered(1e9, 0))).toBeUndefined();
	});
});

describe('shared limit policy', () => {
	let n = 0;
	const limitOf = (
		store: MemoryStore,
		over: Partial<ConstructorParameters<typeof SharedLimit>[1]>,
		now: () => number,
	) =>
		new SharedLimit(
			store,
			{
				name: `policy-test-${++n}`,
				requestsPerMinute: 0,
				tokensPerMinute: 0,
				maxInFlight: 0,
				maxWaitMs: 0,
				...over,
			},
			now,
		);

	it('returns the refusal when there is no room (a LimitRefusal), and frees the slot on release', async () => {
		const c = clock();
		const store = new MemoryStore({ now: c.now });
		const policy = limitPolicy(limitOf(store, { maxInFlight: 1 }, c.now));
		const held = await policy.enter!(callOf(), attemptOf());
		expect(held).not.toBeInstanceOf(AiCallError);
		const refusal = await policy.enter!(callOf(), attemptOf());
		expect(refusal).toBeInstanceOf(LimitRefusal);
		expect(refusal).toMatchObject({ failureClass: 'rate_limited' });
		await (held as { release: (r: AttemptResult) => Promise<void> }).release(answered(5, 5));
		expect(await attempt(policy, answered())).toBeUndefined();
	});

	it('a refused attempt gives its token estimate back; an answered one keeps what it used', async () => {
		const c = clock();
		const store = new MemoryStore({ now: c.now });
		// 60 tokens a minute, no wait: a 60-token call takes the whole minute
		const policy = limitPolicy(limitOf(store, { tokensPerMinute: 60 }, c.now));
		expect(await attempt(policy, refused, callOf(), attemptOf(target(), 60))).toBeUndefined();
		expect(await attempt(policy, answered(50, 10), callOf(), attemptOf(target(), 60))).toBe(
			undefined,
		);
		expect(await policy.enter!(callOf(), attemptOf(target(), 60))).toBeInstanceOf(LimitRefusal);
	});

	it('a failing store throws (the handler warns and skips); a cancelled execution throws its reason', async () => {
		const c = clock();
		const broken = new MemoryStore({ now: c.now });
		broken.claim = async () => {
			throw new Error('store down');
		};
		const policy = limitPolicy(limitOf(broken, { maxInFlight: 1 }, c.now));
		await expect(policy.enter!(callOf(), attemptOf())).rejects.toThrow('store down');

		const store = new MemoryStore({ now: c.now });
		const waiting = limitPolicy(limitOf(store, { maxInFlight: 1, maxWaitMs: 60_000 }, c.now));
		await waiting.enter!(callOf(), attemptOf());
		const abort = new AbortController();
		const reason = new Error('cancelled');
		abort.abort(reason);
		await expect(waiting.enter!(callOf({ signal: abort.signal }), attemptOf())).rejects.toBe(
			reason,
		);
	});
});
