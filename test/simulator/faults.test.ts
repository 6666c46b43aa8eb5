import {
	extractDirective,
	FaultPlanner,
	parseFaultSpec,
	seededRandom,
} from '../../simulator/faults';

describe('fault specs', () => {
	it('parses every part', () => {
		expect(
			parseFaultSpec('latency=100-300;status=429,503;retry-after=2;rate=0.5;fail-first=3;key=a'),
		).toEqual({
			source: 'latency=100-300;status=429,503;retry-after=2;rate=0.5;fail-first=3;key=a',
			latencyMs: { min: 100, max: 300 },
			kind: 'status',
			statuses: [429, 503],
			retryAfterSec: 2,
			rate: 0.5,
			failFirst: 3,
			key: 'a',
		});
		expect(parseFaultSpec('hang').kind).toBe('hang');
		expect(parseFaultSpec('html-error;status=503')).toMatchObject({
			kind: 'html-error',
			statuses: [503],
		});
		expect(parseFaultSpec('latency=50')).toMatchObject({
			latencyMs: { min: 50, max: 50 },
			kind: undefined,
		});
	});

	it.each([
		['bogus', /unknown part "bogus"/],
		['status=200', /status must be HTTP error codes/],
		['hang;reset', /only one of hang, reset/],
		['latency=abc', /latency must be/],
		['rate=2;status=500', /rate must be between 0 and 1/],
		['fail-first=2', /need a fault/],
		['reset;status=500', /status goes only with html-error/],
	])('rejects %s with a clear message', (spec, message) => {
		expect(() => parseFaultSpec(spec)).toThrow(message);
	});

	it('parses the faults of a service that trickles, echoes the key, or answers with garbage', () => {
		expect(parseFaultSpec('trickle')).toMatchObject({ kind: 'trickle', trickleMs: 2000 });
		expect(parseFaultSpec('trickle=500;key=t')).toMatchObject({ kind: 'trickle', trickleMs: 500 });
		expect(parseFaultSpec('echo-key;status=401')).toMatchObject({
			kind: 'echo-key',
			statuses: [401],
		});
		expect(parseFaultSpec('hostile=usage-negative')).toMatchObject({
			kind: 'hostile',
			hostile: 'usage-negative',
		});
		expect(() => parseFaultSpec('hostile=nice')).toThrow(/hostile must be one of not-object/);
		expect(() => parseFaultSpec('trickle;hang')).toThrow(/only one of trickle, hang/);
		const planner = new FaultPlanner(seededRandom(1));
		expect(planner.decide(parseFaultSpec('trickle=300'))).toMatchObject({ trickleMs: 300 });
		expect(planner.decide(parseFaultSpec('hostile=huge'))).toMatchObject({ hostile: 'huge' });
	});

	it('parses stream-cut, alone or with a rate, a key and fail-first', () => {
		expect(parseFaultSpec('stream-cut')).toMatchObject({ kind: 'stream-cut' });
		expect(parseFaultSpec('stream-cut;rate=0.5;fail-first=1;key=s')).toMatchObject({
			kind: 'stream-cut',
			rate: 0.5,
			failFirst: 1,
		});
		expect(() => parseFaultSpec('stream-cut;truncated')).toThrow(
			/only one of stream-cut, truncated/,
		);
		expect(() => parseFaultSpec('stream-cut;status=500')).toThrow(/status goes only with/);
		const planner = new FaultPlanner(seededRandom(1));
		expect(planner.decide(parseFaultSpec('stream-cut')).kind).toBe('stream-cut');
	});

	it('fail-first applies to the first N requests of the same scope only', () => {
		const planner = new FaultPlanner(seededRandom(1));
		const a = parseFaultSpec('fail-first=2;status=503;key=a');
		const b = parseFaultSpec('fail-first=1;status=500;key=b');
		expect([a, a, a].map((s) => planner.decide(s).status)).toEqual([503, 503, undefined]);
		expect([b, b].map((s) => planner.decide(s).status)).toEqual([500, undefined]);
		planner.reset();
		expect(planner.decide(a).status).toBe(503);
	});

	it('rate applies the fault to about that share of requests, repeatably for a seed', () => {
		const spec = parseFaultSpec('rate=0.25;status=429');
		const run = () => {
			const planner = new FaultPlanner(seededRandom(42));
			return Array.from({ length: 2000 }, () => planner.decide(spec).kind).filter(Boolean).length;
		};
		const failed = run();
		expect(failed / 2000).toBeGreaterThan(0.2);
		expect(failed / 2000).toBeLessThan(0.3);
		expect(run()).toBe(failed);
	});

	it('429 gets a Retry-After of 1 s unless told otherwise', () => {
		const planner = new FaultPlanner(seededRandom(1));
		expect(planner.decide(parseFaultSpec('status=429')).retryAfterSec).toBe(1);
		expect(planner.decide(parseFaultSpec('status=503;retry-after=5')).retryAfterSec).toBe(5);
		expect(planner.decide(parseFaultSpec('status=500')).retryAfterSec).toBeUndefined();
	});

	it('random latency stays within its range', () => {
		const planner = new FaultPlanner(seededRandom(7));
		const spec = parseFaultSpec('latency=10-20');
		const delays = Array.from({ length: 200 }, () => planner.decide(spec).delayMs);
		expect(Math.min(...delays)).toBeGreaterThanOrEqual(10);
		expect(Math.max(...delays)).toBeLessThanOrEqual(20);
		expect(new Set(delays).size).toBeGreaterThan(5);
	});

	it('finds and strips [[sim: …]] directives in prompt text', () => {
		expect(extractDirective('Classify this [[sim:status=503]] please [[sim:key=x]]')).toEqual({
			spec: 'status=503;key=x',
			text: 'Classify this  please',
		});
		expect(extractDirective('no directive')).toEqual({ spec: undefined, text: 'no directive' });
	});
});
