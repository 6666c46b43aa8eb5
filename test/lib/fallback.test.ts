import { FAILURE_CLASSES } from '../../lib/ai/failure';
import {
	DEFAULT_TABLE,
	MAX_QUEUE_WAIT_MS,
	STRATEGIES,
	buildTable,
	parseStrategies,
	readAttempts,
	readFailure,
	rotation,
	route,
	withPath,
	type CacheLookup,
	type RouteInput,
	type Strategy,
} from '../../lib/fallback';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const HIT: CacheLookup = {
	found: { value: { text: 'cached' }, stale: false, storedAt: NOW - 120_000 },
};
const STALE: CacheLookup = {
	found: { value: { text: 'old' }, stale: true, storedAt: NOW - 3 * 3_600_000 },
};
const MISS: CacheLookup = { outcome: 'not_found' };
const DOWN: CacheLookup = {
	outcome: 'store_unreachable',
	detail: 'Redis at 127.0.0.1:6379: get failed: ECONNREFUSED',
};

const CACHE = { fresh: HIT, 'last good': STALE, none: MISS, 'store down': DOWN };
type CacheState = keyof typeof CACHE;

const input = (over: Partial<RouteInput> = {}): RouteInput => ({
	class: 'rate_limited',
	strategies: ['cached', 'queue'],
	queueAttempts: 0,
	maxRequeues: 5,
	backoff: { baseMs: 60_000, maxMs: 3_600_000 },
	now: NOW,
	random: () => 0.5,
	...over,
});
const decide = (over: Partial<RouteInput>, cache: CacheLookup = MISS) =>
	route(input(over), async () => cache);
const strategiesOf = (cls: string) => buildTable([]).get(cls) ?? ['human'];

describe('the default table', () => {
	it('names every failure class but simulated, which the drill setting decides', () => {
		expect(Object.keys(DEFAULT_TABLE).sort()).toEqual(
			FAILURE_CLASSES.filter((c) => c !== 'simulated').sort(),
		);
	});

	// failure class × cached answer available (or not) × re-queues left (or not) → output
	it.each<[string, CacheState, number, Strategy, string]>([
		['rate_limited', 'fresh', 0, 'cached', 'cached'],
		['rate_limited', 'none', 0, 'queue', 'queued'],
		['rate_limited', 'none', 5, 'human', 'max_requeues'],
		['overloaded', 'last good', 0, 'cached', 'last_good'],
		['overloaded', 'store down', 0, 'queue', 'queued'],
		['circuit_open', 'fresh', 0, 'cached', 'cached'],
		['circuit_open', 'none', 0, 'queue', 'queued'],
		['timeout', 'fresh', 0, 'cached', 'cached'],
		['timeout', 'none', 0, 'degraded', 'degraded'],
		['server_error', 'store down', 0, 'degraded', 'degraded'],
		['network', 'last good', 0, 'cached', 'last_good'],
		['network', 'none', 5, 'degraded', 'degraded'],
		['auth', 'fresh', 0, 'human', 'needs_person'],
		['bad_request', 'fresh', 0, 'human', 'needs_person'],
		['context_length', 'fresh', 0, 'human', 'needs_person'],
		['content_filter', 'fresh', 0, 'human', 'needs_person'],
		['invalid_output', 'fresh', 0, 'human', 'needs_person'],
		['budget_exceeded', 'fresh', 0, 'queue', 'queued'],
		['budget_exceeded', 'fresh', 5, 'human', 'max_requeues'],
		['egress_blocked', 'fresh', 0, 'human', 'needs_person'],
		['something_new', 'fresh', 0, 'human', 'needs_person'],
	])(
		'%s, cached answer: %s, queued %i times → %s (%s)',
		async (cls, cache, attempts, strategy, code) => {
			const decision = await decide(
				{ class: cls, strategies: strategiesOf(cls), queueAttempts: attempts },
				CACHE[cache],
			);
			expect(decision).toMatchObject({ strategy, code });
		},
	);
});

describe('route', () => {
	it('says which strategy served the item and why, with every strategy tried', async () => {
		expect(await decide({}, HIT)).toEqual({
			strategy: 'cached',
			code: 'cached',
			reason: 'cached answer from 2m ago',
			tried: [{ strategy: 'cached', outcome: 'used' }],
			cached: HIT.found,
		});
		const stale = await decide({}, STALE);
		expect(stale.reason).toBe('last good answer from 3h ago');
		const down = await decide({ strategies: ['cached', 'degraded'] }, DOWN);
		expect(down).toMatchObject({
			strategy: 'degraded',
			reason: 'cache store unreachable; degraded answer',
			tried: [
				{ strategy: 'cached', outcome: 'store_unreachable', detail: DOWN.detail },
				{ strategy: 'degraded', outcome: 'used' },
			],
		});
		expect((await decide({ class: 'auth', strategies: ['human'] })).reason).toBe(
			'auth failures need a person',
		);
	});

	it('looks the cache up only when it reaches the Cached strategy', async () => {
		const lookup = jest.fn(async () => HIT);
		await route(input({ strategies: ['human', 'cached'] }), lookup);
		expect(lookup).not.toHaveBeenCalled();
		await route(input({ strategies: ['queue', 'cached'] }), lookup);
		expect(lookup).not.toHaveBeenCalled();
	});

	it('queues until the Retry-After the service asked for', async () => {
		const decision = await decide({ retryAfterMs: 30_000, queueAttempts: 2 });
		expect(decision).toMatchObject({
			strategy: 'queue',
			retryAt: NOW + 30_000,
			retryInMs: 30_000,
			queueAttempts: 3,
			tried: [
				{ strategy: 'cached', outcome: 'not_found' },
				{ strategy: 'queue', outcome: 'used' },
			],
		});
		expect(decision.reason).toBe(
			'no cached answer; queued until 2026-01-01T12:00:30.000Z (Retry-After 30s; attempt 3 of 5)',
		);
		// Retry-After 0 means "now", not "unknown"
		expect((await decide({ retryAfterMs: 0 })).retryInMs).toBe(0);
	});

	it('otherwise backs off exponentially with full jitter, capped by the max delay', async () => {
		const wait = async (queueAttempts: number, random: number) =>
			(await decide({ queueAttempts, random: () => random, maxRequeues: 20 })).retryInMs;
		expect(await wait(0, 1)).toBe(60_000); // attempt 1: up to base
		expect(await wait(0, 0.5)).toBe(30_000);
		expect(await wait(2, 1)).toBe(240_000); // attempt 3: up to base · 4
		expect(await wait(10, 1)).toBe(3_600_000); // capped
		expect(await wait(10, 0)).toBe(0);
		expect((await decide({ queueAttempts: 1 })).reason).toMatch(/backoff up to 2m; attempt 2 of 5/);
	});

	it('sends an item queued Max Re-queues times to a person, also with Max Re-queues 0', async () => {
		const full = await decide({ queueAttempts: 5 });
		expect(full).toMatchObject({
			strategy: 'human',
			code: 'max_requeues',
			reason: 'no cached answer; queued 5 times already (max 5); a person decides',
			tried: [
				{ strategy: 'cached', outcome: 'not_found' },
				{ strategy: 'queue', outcome: 'max_requeues' },
				{ strategy: 'human', outcome: 'used' },
			],
		});
		expect(full.retryAt).toBeUndefined();
		expect((await decide({ maxRequeues: 0 })).code).toBe('max_requeues');
	});

	it('sends the item to a person when no strategy in its list is available', async () => {
		expect(
			await decide({ class: 'timeout', strategies: ['cached'] }, { outcome: 'no_cache_key' }),
		).toMatchObject({
			strategy: 'human',
			code: 'no_strategy_left',
			reason: 'no cache key; no other strategy left for timeout; a person decides',
		});
	});
});

describe('strategy lists and rules', () => {
	it('parses comma-separated strategies in order, naming the setting in errors', () => {
		expect(parseStrategies(' Queue, cached ,queue,', 'Rule 1')).toEqual(['queue', 'cached']);
		expect(parseStrategies(['human', 'degraded'], 'x')).toEqual(['human', 'degraded']);
		expect(() => parseStrategies('cached, cache', 'Rule 2, "Strategies"')).toThrow(
			'Rule 2, "Strategies": unknown strategy "cache" (use cached, queue, human, degraded, in the order to try them)',
		);
		expect(() => parseStrategies(' , ', 'Drill')).toThrow('Drill: no strategy given');
	});

	it('lets the first rule naming a class win, and keeps the default for the others', () => {
		const table = buildTable([
			{ classes: ['auth', 'timeout'], strategies: 'degraded' },
			{ classes: ['timeout'], strategies: 'queue' },
		]);
		expect(table.get('auth')).toEqual(['degraded']);
		expect(table.get('timeout')).toEqual(['degraded']);
		expect(table.get('rate_limited')).toEqual(['cached', 'queue']);
		expect(() => buildTable([{ classes: [], strategies: 'human' }])).toThrow(
			'Rule 1: choose at least one failure class',
		);
		expect(() =>
			buildTable([{ classes: ['auth'], strategies: 'human' }, { classes: ['auth'] }]),
		).toThrow('Rule 2, "Strategies": no strategy given');
	});

	it('rotates drills through all four outputs by item index', () => {
		expect([0, 1, 2, 3, 4].map((i) => rotation(i)[0])).toEqual([...STRATEGIES, 'cached']);
		expect(rotation(1)).toEqual(['queue', 'human', 'degraded', 'cached']);
	});
});

describe('reading the failure', () => {
	it('takes an AI Call error, with its Retry-After', () => {
		const failure = readFailure({
			class: 'rate_limited',
			message: 'Too many requests',
			httpStatus: 429,
			retryAfterMs: 2000,
			retries: [{ attempt: 1 }],
			provider: 'openai',
			model: 'gpt',
			cache: { namespace: 'n', key: 'k' },
		});
		expect(failure).toEqual({
			class: 'rate_limited',
			retryAfterMs: 2000,
			summary: {
				class: 'rate_limited',
				message: 'Too many requests',
				httpStatus: 429,
				retryAfterMs: 2000,
				provider: 'openai',
				model: 'gpt',
			},
		});
		expect(readFailure({ class: 'timeout', retryAfterMs: null })?.retryAfterMs).toBeUndefined();
	});

	it('classifies other nodes’ errors by HTTP status, and bare messages as unknown', () => {
		expect(readFailure({ message: 'Too Many Requests', httpCode: '429' })?.class).toBe(
			'rate_limited',
		);
		expect(readFailure({ message: 'boom', statusCode: 502 })?.class).toBe('server_error');
		expect(readFailure({ message: 'boom' })?.class).toBe('unknown');
		expect(readFailure('Connection refused')).toEqual({
			class: 'unknown',
			summary: { class: 'unknown', message: 'Connection refused' },
		});
	});

	it("reads the class and the wait back from an AI Call Chat Model's message on an Agent's error output", () => {
		expect(
			readFailure('rate_limited: HTTP 429 from the AI service: slow down (retry after 2000 ms)'),
		).toEqual({
			class: 'rate_limited',
			retryAfterMs: 2000,
			summary: {
				class: 'rate_limited',
				message: 'rate_limited: HTTP 429 from the AI service: slow down (retry after 2000 ms)',
			},
		});
		expect(readFailure('budget_exceeded: Budget "x" is spent')?.class).toBe('budget_exceeded');
		// a word that is no failure class, or a wait not at the end, is just text
		expect(readFailure('warning: disk (retry after 5 ms) full')).toEqual({
			class: 'unknown',
			summary: { class: 'unknown', message: 'warning: disk (retry after 5 ms) full' },
		});
	});

	it('finds no failure in nothing, blanks, lists or numbers', () => {
		for (const value of [undefined, null, '', '  ', [], 42, true])
			expect(readFailure(value)).toBeUndefined();
	});
});

describe('paths', () => {
	it('write a copy along the path, leaving the input untouched', () => {
		const item = { id: 1, fallback: { queueAttempts: 1, note: 'x' }, list: [{ a: 1 }] };
		const copy = withPath(item, 'fallback.queueAttempts', 2);
		expect(copy).toEqual({ ...item, fallback: { queueAttempts: 2, note: 'x' } });
		expect(item.fallback.queueAttempts).toBe(1);
		expect(copy.list).toBe(item.list); // untouched branches are shared, not copied
		expect(withPath({}, 'meta.retries[1]', 3)).toEqual({ meta: { retries: [undefined, 3] } });
		expect(withPath(item, 'list[0].a', 9).list).toEqual([{ a: 9 }]);
		expect(item.list[0].a).toBe(1);
	});

	it('remove a value, and never write into prototypes', () => {
		const item = { keep: 1, error: { class: 'auth' }, nested: { error: 1, other: 2 } };
		expect(withPath(item, 'error', undefined)).toEqual({ keep: 1, nested: item.nested });
		expect(withPath(item, 'nested.error', undefined).nested).toEqual({ other: 2 });
		expect(withPath(item, 'absent.path', undefined)).toBe(item);
		expect(() => withPath({}, '__proto__.polluted', 1)).toThrow('"__proto__" cannot be written');
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('read the attempt count as a non-negative integer, 0 when absent or unreadable', () => {
		expect(readAttempts({ fallback: { queueAttempts: 3 } }, 'fallback.queueAttempts')).toBe(3);
		expect(readAttempts({ n: '2' }, 'n')).toBe(2);
		for (const n of [undefined, null, -1, 1.5, 'x', {}]) expect(readAttempts({ n }, 'n')).toBe(0);
	});
});

describe('hostile error fields (issue 12): unreadable values count as absent, waits are capped', () => {
	const hostile = {
		toString() {
			throw new Error('own toString');
		},
		valueOf() {
			throw new Error('own valueOf');
		},
	};

	it.each([
		['1e20', 1e20],
		['8e15 (the year 255536)', 8e15],
		['a far Date as text', '+275760-09-13T00:00:00.000Z'],
	])(
		'retryAfterMs %s is waited at most 24 h, and the retry time is a real date',
		async (_, wait) => {
			const failure = readFailure({ class: 'rate_limited', retryAfterMs: wait });
			const decision = await decide({ retryAfterMs: failure!.retryAfterMs });
			expect(decision.code).toBe('queued');
			expect(decision.retryInMs).toBeLessThanOrEqual(MAX_QUEUE_WAIT_MS);
			expect(new Date(decision.retryAt!).toISOString()).toMatch(/^2026-01-0[12]T/);
		},
	);

	it('a Date object or an object with its own toString in retryAfterMs, httpStatus or queueAttempts is absent, never called', () => {
		expect(
			readFailure({ class: 'timeout', retryAfterMs: new Date(8.64e15) })?.retryAfterMs,
		).toBeUndefined();
		const failure = readFailure({ httpStatus: hostile, retryAfterMs: hostile, message: hostile });
		expect(failure).toMatchObject({ class: 'unknown', retryAfterMs: undefined });
		expect(failure!.summary).toEqual({ class: 'unknown' });
		expect(readFailure({ httpStatus: '429' })?.class).toBe('rate_limited');
		expect(readAttempts({ fallback: { queueAttempts: hostile } }, 'fallback.queueAttempts')).toBe(
			0,
		);
		expect(readAttempts({ fallback: { queueAttempts: '2' } }, 'fallback.queueAttempts')).toBe(2);
	});

	it('a strategy list that is not text names its setting instead of calling its toString', () => {
		expect(() => parseStrategies(hostile, '"Drill Strategy List"')).toThrow(
			/"Drill Strategy List": must be/,
		);
		expect(() => parseStrategies([hostile], '"Drill Strategy List"')).toThrow(
			/"Drill Strategy List"/,
		);
	});
});
