/**
 * The Prometheus exposition as a scraper reads it: the counters' values from the ledger's totals,
 * gauges from the last known states, hostile label values escaped, and the whole page accepted by
 * Debian's promtool (required with CI=true; elsewhere skipped loudly when it is not installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';

import { LedgerWriter, type UsageEvent } from '../../lib/ai/ledger';
import { BudgetBook } from '../../lib/ai/budget';
import { breakerPolicy } from '../../lib/ai/breakerPolicy';
import { CircuitBreaker } from '../../lib/breaker';
import { readSnapshot } from '../../lib/metrics/collect';
import { prometheusText } from '../../lib/metrics/prometheus';
import { publishStatus, type QueueStatusEntry } from '../../lib/metrics/status';
import { MemoryStore } from '../../lib/stores/memory';
import { usageEvent } from '../lib/usageEvent';

const T0 = Date.now();

const event = (over: Partial<UsageEvent> = {}) => usageEvent(T0, over);

/** name{labels} → value, labels parsed back (unescaped) so tests read what Prometheus would. */
function parse(
	text: string,
): Array<{ name: string; labels: Record<string, string>; value: number }> {
	const samples = [];
	for (const line of text.split('\n')) {
		if (!line || line.startsWith('#')) continue;
		const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!m) throw new Error(`not a sample line: ${line}`);
		const labels: Record<string, string> = {};
		const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g;
		let l;
		while ((l = re.exec(m[2] ?? '')))
			labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
		samples.push({ name: m[1], labels, value: Number(m[3] === '+Inf' ? Infinity : m[3]) });
	}
	return samples;
}

const value = (text: string, name: string, labels: Record<string, string> = {}) =>
	parse(text)
		.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
		.reduce((a, s) => a + s.value, 0);

const promtool = spawnSync('promtool', ['--version']).status === 0;
const inCi = process.env.CI === 'true';
if (!promtool && !inCi)
	process.stderr.write(
		"\n*** SKIPPED: promtool checks — Debian's prometheus package is not installed (apt-get install -y prometheus); with CI=true they run and fail. ***\n\n",
	);
const withPromtool = promtool || inCi ? it : it.skip;

async function populated() {
	const store = new MemoryStore();
	const w = new LedgerWriter(store);
	const ttl = 86_400_000;
	w.record(event(), ttl);
	w.record(
		event({ latencyMs: 900, retries: 2, retryClasses: { rate_limited: 2 }, attempts: 3 }),
		ttl,
	);
	w.record(
		event({
			outcome: 'failed',
			failureClass: 'server_error',
			model: 'sim-backup',
			fallbackUsed: true,
			fallbackClass: 'server_error',
			attempts: 2,
			timeouts: 1,
			cost: { inputUsd: 0, outputUsd: 0, totalUsd: 0, tag: 'doc', priced: true },
			inputTokens: 0,
			outputTokens: 0,
			latencyMs: 200_000,
		}),
		ttl,
	);
	w.record(event({ outcome: 'cached', attempts: 0, cache: 'hit', latencyMs: 2 }), ttl);
	w.record(event({ cache: 'miss' }), ttl);
	// hostile: a cost tag and a workflow name from items
	w.record(event({ tag: 'a"b\\c\nd', workflowName: 'x{y}="z"' }), ttl);
	w.recordOutcome({ at: T0, tag: 'doc', count: 4 });
	w.tallyLimit('sim-shared', { waits: 1, wait_ms: 1500 });
	w.tallyLimit('sim-shared', { refusals: 1 });
	await w.flush();

	const book = new BudgetBook(store);
	const spec = {
		name: 'daily',
		period: 'day' as const,
		timeZone: 'UTC',
		limitUsd: 1,
		limitTokens: 0,
		warnPercent: 80,
		unpriced: 'refuse' as const,
	};
	book.announce([
		{ spec, scopeKey: '' },
		{ spec, scopeKey: 'customer-42' },
	]);
	const held = await book.reserve(
		[{ spec, scopeKey: 'customer-42' }],
		{ usd: 0.9, tokens: 10, priced: true },
		60_000,
	);
	if (!held.ok) throw new Error('reserve failed');
	await held.hold.settle({ usd: 0.85, tokens: 10, priced: true });

	// a breaker that opened: announced by the policy, opened by failures
	const options = {
		consecutiveFailures: 1,
		failureRate: 0,
		minCalls: 1,
		windowMs: 60_000,
		cooldownMs: 60_000,
	};
	const policy = breakerPolicy({ store, name: 'sim', options });
	await policy.enter!({} as never, { target: { model: 'gpt-x' } } as never);
	await new CircuitBreaker(store, 'sim:gpt-x', options).record(false, false);

	const queue: QueueStatusEntry = {
		source: 'rabbitmq',
		queue: 'ai-jobs',
		status: 'critical',
		depth: 1200,
		inProgress: 3,
		consumers: 1,
		oldestAgeMs: 90_000,
		reason: 'depth_critical',
		checkedAt: new Date(T0).toISOString(),
	};
	await publishStatus(store, 'queue', [{ id: 'rabbitmq:ai-jobs', value: queue }]);
	await publishStatus(store, 'freshness', [
		{
			id: 'orders-index',
			value: {
				source: 'orders-index',
				status: 'stale',
				ageMs: 7_200_000,
				reason: 'older_than_error',
				checkedAt: new Date(T0).toISOString(),
				items: { fresh: 0, warn: 0, stale: 1 },
			},
		},
	]);
	// the announcements are written in the background
	await new Promise((r) => setTimeout(r, 50));
	return store;
}

describe('Prometheus metrics', () => {
	let text: string;
	beforeAll(async () => {
		text = prometheusText(await readSnapshot(await populated()));
	});

	it('counts calls by outcome, tokens, cost and attempts from the ledger', () => {
		expect(value(text, 'ai_patterns_calls_total', { outcome: 'success', tag: 'doc' })).toBe(3);
		expect(value(text, 'ai_patterns_calls_total', { outcome: 'failed' })).toBe(1);
		expect(value(text, 'ai_patterns_calls_total', { outcome: 'cached' })).toBe(1);
		expect(value(text, 'ai_patterns_calls_total')).toBe(6);
		expect(value(text, 'ai_patterns_input_tokens_total', { model: 'sim-standard' })).toBe(500);
		expect(value(text, 'ai_patterns_cost_usd_total', { model: 'sim-standard' })).toBeCloseTo(
			0.0015,
			9,
		);
		expect(value(text, 'ai_patterns_attempts_total')).toBe(1 + 3 + 2 + 0 + 1 + 1);
		expect(value(text, 'ai_patterns_outcomes_total', { tag: 'doc' })).toBe(4);
	});

	it('splits retries, fallbacks and failures by failure class', () => {
		expect(value(text, 'ai_patterns_retries_total', { class: 'rate_limited' })).toBe(2);
		expect(
			value(text, 'ai_patterns_fallbacks_total', { class: 'server_error', model: 'sim-backup' }),
		).toBe(1);
		expect(value(text, 'ai_patterns_call_failures_total', { class: 'server_error' })).toBe(1);
		expect(value(text, 'ai_patterns_attempt_timeouts_total')).toBe(1);
	});

	it('counts cache hits and misses', () => {
		expect(value(text, 'ai_patterns_cache_hits_total')).toBe(1);
		expect(value(text, 'ai_patterns_cache_misses_total')).toBe(1);
	});

	it('has a cumulative latency histogram in seconds', () => {
		const buckets = parse(text).filter(
			(s) =>
				s.name === 'ai_patterns_call_duration_seconds_bucket' && s.labels.model === 'sim-standard',
		);
		const at = (le: string) => buckets.find((b) => b.labels.le === le)!.value;
		expect(at('0.1')).toBe(0); // 120 ms is above 100 ms
		expect(at('0.15')).toBe(3); // the three 120 ms calls that reached the service (not the cached one)
		expect(at('1')).toBe(4); // and the 900 ms one
		expect(at('+Inf')).toBe(4);
		expect(value(text, 'ai_patterns_call_duration_seconds_count', { model: 'sim-standard' })).toBe(
			4,
		);
		expect(
			value(text, 'ai_patterns_call_duration_seconds_sum', { model: 'sim-standard' }),
		).toBeCloseTo(1.26, 6);
		// 200 s is beyond the last bound: only +Inf holds it
		const backup = parse(text).filter(
			(s) =>
				s.name === 'ai_patterns_call_duration_seconds_bucket' && s.labels.model === 'sim-backup',
		);
		expect(backup.find((b) => b.labels.le === '120')!.value).toBe(0);
		expect(backup.find((b) => b.labels.le === '+Inf')!.value).toBe(1);
	});

	it('escapes hostile label values so they read back exactly', () => {
		const hostile = parse(text).find(
			(s) => s.name === 'ai_patterns_calls_total' && s.labels.tag === 'a"b\\c\nd',
		);
		expect(hostile?.labels.workflow).toBe('x{y}="z"');
		expect(text).not.toMatch(/\nd"/); // the newline in the tag is escaped, not a line break
	});

	it('shows shared-limit waits and refusals', () => {
		expect(value(text, 'ai_patterns_shared_limit_waits_total', { limit: 'sim-shared' })).toBe(1);
		expect(
			value(text, 'ai_patterns_shared_limit_wait_seconds_total', { limit: 'sim-shared' }),
		).toBe(1.5);
		expect(value(text, 'ai_patterns_shared_limit_refusals_total', { limit: 'sim-shared' })).toBe(1);
	});

	it('shows budgets spent and remaining per scope, breakers, queues and freshness', () => {
		expect(
			value(text, 'ai_patterns_budget_spent_usd', { budget: 'daily', scope: 'customer-42' }),
		).toBeCloseTo(0.85, 9);
		expect(
			value(text, 'ai_patterns_budget_remaining_usd', { budget: 'daily', scope: 'customer-42' }),
		).toBeCloseTo(0.15, 9);
		expect(value(text, 'ai_patterns_budget_status', { scope: 'customer-42', status: 'warn' })).toBe(
			1,
		);
		expect(value(text, 'ai_patterns_budget_status', { scope: 'all', status: 'within' })).toBe(1);
		expect(value(text, 'ai_patterns_breaker_state', { breaker: 'sim:gpt-x', state: 'open' })).toBe(
			1,
		);
		expect(
			value(text, 'ai_patterns_breaker_state', { breaker: 'sim:gpt-x', state: 'closed' }),
		).toBe(0);
		expect(value(text, 'ai_patterns_queue_depth', { queue: 'ai-jobs' })).toBe(1200);
		expect(value(text, 'ai_patterns_queue_oldest_age_seconds', { queue: 'ai-jobs' })).toBe(90);
		expect(value(text, 'ai_patterns_queue_status', { queue: 'ai-jobs', status: 'critical' })).toBe(
			1,
		);
		expect(
			value(text, 'ai_patterns_freshness_status', { source: 'orders-index', status: 'stale' }),
		).toBe(1);
		expect(value(text, 'ai_patterns_freshness_age_seconds', { source: 'orders-index' })).toBe(7200);
	});

	it('never labels by execution id', () => {
		expect(text).not.toContain('e1');
		expect(parse(text).every((s) => !('execution' in s.labels))).toBe(true);
	});

	withPromtool('passes promtool check metrics', () => {
		const out = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
		expect({ status: out.status, problems: `${out.stdout}${out.stderr}` }).toEqual({
			status: 0,
			problems: '',
		});
	});

	withPromtool('an empty store is valid exposition too', async () => {
		const empty = prometheusText(await readSnapshot(new MemoryStore()));
		execFileSync('promtool', ['check', 'metrics'], { input: empty });
		expect(value(empty, 'ai_patterns_calls_total')).toBe(0);
	});
});
