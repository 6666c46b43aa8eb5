import { AiCallError } from '../../lib/ai/failure';
import {
	LimitRefusal,
	SharedLimit,
	estimateTokens,
	type SharedLimitSettings,
} from '../../lib/ai/sharedLimit';
import { MemoryStore } from '../../lib/stores/memory';

let unique = 0;
const settings = (over: Partial<SharedLimitSettings>): SharedLimitSettings => ({
	name: `test-${++unique}`,
	requestsPerMinute: 0,
	tokensPerMinute: 0,
	maxInFlight: 0,
	maxWaitMs: 5_000,
	...over,
});

describe('shared limit', () => {
	it('paces calls by requests per minute, first come first served, across nodes naming it', async () => {
		const store = new MemoryStore();
		const s = settings({ requestsPerMinute: 600 }); // one per 100 ms
		const a = new SharedLimit(store, s);
		const b = new SharedLimit(store, s); // another node (or worker) naming the same limit
		const waits = await Promise.all(
			[a, b, a, b, a].map(async (limit) => {
				const admission = await limit.admit(10, 10_000);
				await admission.release({ usedTokens: 10 });
				return admission.waitedMs;
			}),
		);
		// a busy machine only delays a start, never brings one forward: the i-th waited ≥ i × 100 ms
		// (minus a timer's early millisecond), whatever else ran
		waits.sort((x, y) => x - y);
		waits.forEach((waited, i) => expect(waited).toBeGreaterThanOrEqual(i * 100 - 2));
	});

	it('refuses at once when the next free start is beyond the maximum wait, saying it is our limit and when to retry', async () => {
		const store = new MemoryStore();
		const s = settings({ requestsPerMinute: 1, maxWaitMs: 1_000 });
		const limit = new SharedLimit(store, s);
		await limit.admit(1, 1_000);
		const refused = await limit.admit(1, 1_000).catch((e: unknown) => e);
		expect(refused).toBeInstanceOf(LimitRefusal);
		expect((refused as LimitRefusal).failureClass).toBe('rate_limited');
		expect((refused as LimitRefusal).message).toMatch(
			/ours, not the provider's.*1 requests per minute/,
		);
		expect((refused as LimitRefusal).retryAfterMs).toBeGreaterThan(58_000);
	});

	it('holds calls in flight to the limit; a slot comes back on release, or after its lease when the holder crashed', async () => {
		const store = new MemoryStore();
		const s = settings({ maxInFlight: 2, maxWaitMs: 3_000 });
		const limit = new SharedLimit(store, s);
		const first = await limit.admit(1, 60_000);
		await limit.admit(1, 300); // this holder "crashes": never released, lease 300 ms
		const t0 = Date.now();
		const third = limit.admit(1, 60_000).then(() => Date.now() - t0);
		const fourth = limit.admit(1, 60_000).then(() => Date.now() - t0);
		setTimeout(() => void first.release({}), 150);
		const waited = (await Promise.all([third, fourth])).sort((x, y) => x - y);
		expect(waited[0]).toBeGreaterThanOrEqual(140); // the released slot
		expect(waited[1]).toBeGreaterThanOrEqual(290); // the crashed holder's slot, after its lease
		await expect(new SharedLimit(store, { ...s, maxWaitMs: 100 }).admit(1, 60_000)).rejects.toThrow(
			/all 2 calls in flight are taken/,
		);
	});

	it('pauses everyone for the provider’s Retry-After after a 429', async () => {
		const store = new MemoryStore();
		const s = settings({ maxInFlight: 5, maxWaitMs: 2_000 });
		const limit = new SharedLimit(store, s);
		const admission = await limit.admit(1, 60_000);
		await admission.release({ error: new AiCallError('rate_limited', 'slow down', 429, 400) });
		const t0 = Date.now();
		await new SharedLimit(store, s).admit(1, 60_000);
		expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
		await limit.pause(5_000);
		await expect(limit.admit(1, 60_000)).rejects.toThrow(/Retry-After/);
	});

	it('paces tokens by estimate and gives back what a call did not use', async () => {
		const store = new MemoryStore();
		const s = settings({ tokensPerMinute: 60_000, maxWaitMs: 10_000 }); // 1 token per ms
		const limit = new SharedLimit(store, s);
		const first = await limit.admit(1_000, 60_000);
		await first.release({ usedTokens: 100 }); // 900 tokens back
		const t0 = Date.now();
		await limit.admit(1_000, 60_000);
		expect(Date.now() - t0).toBeLessThan(300); // would be ~1 s without the settlement
	});

	it('estimates a call as the prompt plus the output cap', () => {
		expect(estimateTokens([{ content: 'x'.repeat(400) }, { content: 'abcd' }], 1024)).toBe(
			101 + 1024,
		);
	});
});
