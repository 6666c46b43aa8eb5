import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CircuitBreaker, type BreakerOptions } from '../../lib/breaker';
import { MemoryStore, SqliteStore } from '../../lib/stores';
import type { StateStore } from '../../lib/stores';

const dir = mkdtempSync(join(tmpdir(), 'breaker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let t = 1_000_000;
const now = () => t;
const backends: Array<[string, () => StateStore]> = [
	['memory', () => new MemoryStore({ now })],
	['local SQLite', () => new SqliteStore({ path: join(dir, `b-${Math.random()}.sqlite`), now })],
];
const options = (o: Partial<BreakerOptions> = {}): BreakerOptions => ({
	consecutiveFailures: 3,
	failureRate: 0,
	minCalls: 10,
	windowMs: 60_000,
	cooldownMs: 30_000,
	now,
	...o,
});

describe.each(backends)('circuit breaker on the %s store', (_name, make) => {
	let store: StateStore;
	beforeEach(() => {
		t = 1_000_000;
		store = make();
	});
	afterEach(() => store.close());

	it('opens after N consecutive failures; a success in between starts the count again', async () => {
		const b = new CircuitBreaker(store, 'svc', options());
		await b.record(false, false);
		await b.record(false, false);
		await b.record(true, false);
		await b.record(false, false);
		await b.record(false, false);
		expect(await b.allow()).toEqual({ allowed: true, probe: false });
		await b.record(false, false);
		expect(await b.state()).toBe('open');
		expect(await b.allow()).toEqual({ allowed: false, retryAfterMs: 30_000 });
	});

	it('opens on the failure rate over a window with enough calls', async () => {
		const b = new CircuitBreaker(
			store,
			'svc',
			options({ consecutiveFailures: 0, failureRate: 0.5, minCalls: 6 }),
		);
		for (const ok of [true, false, true, false, true]) await b.record(ok, false);
		expect(await b.state()).toBe('closed'); // 2 of 5: too few calls and under the rate
		await b.record(false, false); // 3 of 6 = 50 %
		expect(await b.state()).toBe('open');
	});

	it('after the cooldown lets exactly one probe through; its success closes the breaker', async () => {
		const b = new CircuitBreaker(store, 'svc', options());
		for (let i = 0; i < 3; i++) await b.record(false, false);
		t += 30_000;
		expect(await b.state()).toBe('half-open');
		const verdicts = await Promise.all([b.allow(), b.allow(), b.allow()]);
		expect(verdicts.filter((v) => v.allowed)).toEqual([{ allowed: true, probe: true }]);
		await b.record(true, true);
		expect(await b.state()).toBe('closed');
		expect(await b.allow()).toEqual({ allowed: true, probe: false });
	});

	it('a failed probe opens it again for another cooldown', async () => {
		const b = new CircuitBreaker(store, 'svc', options());
		for (let i = 0; i < 3; i++) await b.record(false, false);
		t += 31_000;
		expect(await b.allow()).toEqual({ allowed: true, probe: true });
		await b.record(false, true);
		expect(await b.allow()).toEqual({ allowed: false, retryAfterMs: 30_000 });
		t += 30_000;
		expect(await b.allow()).toEqual({ allowed: true, probe: true });
	});

	it('keeps breakers of different names apart', async () => {
		const a = new CircuitBreaker(store, 'a', options());
		const other = new CircuitBreaker(store, 'b', options());
		for (let i = 0; i < 3; i++) await a.record(false, false);
		expect(await a.state()).toBe('open');
		expect(await other.state()).toBe('closed');
	});
});
