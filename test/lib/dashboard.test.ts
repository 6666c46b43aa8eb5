import fc from 'fast-check';

import { age, duration, niceScale, renderDashboard, usd } from '../../lib/metrics/dashboard';
import type { DashboardData } from '../../lib/metrics/dashboardData';

const HOSTILE = '<img src=x onerror=alert(1)>';
const HOSTILE_ESCAPED = '&lt;img src=x onerror=alert(1)&gt;';

const days = Array.from({ length: 14 }, (_, i) =>
	new Date(Date.UTC(2026, 10, 19) + i * 86_400_000).toISOString().slice(0, 10),
);

function sample(): DashboardData {
	return {
		generatedAt: '2026-12-02T09:15:00.000Z',
		timeZone: 'Europe/Berlin',
		store: 'Redis at 127.0.0.1:6379',
		days,
		costByDay: [
			{ tag: 'support', costUsd: days.map((_, i) => 0.5 + i * 0.1) },
			{ tag: '', costUsd: days.map((_, i) => (i % 3 === 0 ? 0.25 : 0)) },
			{ tag: HOSTILE, costUsd: days.map(() => 0.002) },
		],
		recentWindow: 'last 24 hours',
		recent: {
			calls: 1240,
			succeeded: 1100,
			cached: 80,
			simulated: 10,
			failed: 50,
			failuresByClass: { timeout: 30, rate_limited: 15, [`"${HOSTILE}`]: 5 },
			retries: 64,
			fallbacks: 12,
			costUsd: 2.3456,
			inputTokens: 1_234_567,
			outputTokens: 345_678,
			cacheHitRate: 0.068,
			latencyP50Ms: 840,
			latencyP95Ms: 3120,
		},
		latencyByModel: [
			{ provider: 'openai', model: 'gpt-4o-mini', calls: 900, p50Ms: 700, p95Ms: 2100 },
			{ provider: 'anthropic', model: HOSTILE, calls: 200, p50Ms: 1500, p95Ms: 4800 },
		],
		outcomeWindow: 'last 7 days',
		costPerOutcome: [
			{ tag: 'support', outcomes: 420, costUsd: 8.4, costPerOutcomeUsd: 0.02 },
			{ tag: 'triage', outcomes: 0, costUsd: 1.1, costPerOutcomeUsd: null },
		],
		budgets: [
			budget('daily-all', '', 'within', 35),
			budget('team', 'wf-42', 'warn', 85),
			budget(HOSTILE, HOSTILE, 'exceeded', 130),
		],
		breakers: [
			{ name: 'openai', state: 'closed', seenAt: '2026-12-02T09:14:00.000Z' },
			{ name: 'anthropic', state: 'half-open', seenAt: '2026-12-02T09:10:00.000Z' },
			{ name: HOSTILE, state: 'open', seenAt: '2026-12-02T08:00:00.000Z' },
		],
		queues: [
			queue('normal', 3, 45_000),
			queue('warn', 120, 180_000),
			queue('critical', 5000, 2 * 3_600_000),
			{ ...queue('unknown', null, null), queue: HOSTILE, reason: HOSTILE },
		],
		freshness: [
			{
				source: 'orders',
				status: 'fresh',
				ageMs: 30_000,
				reason: '',
				checkedAt: '2026-12-02T09:14:00Z',
			},
			{
				source: 'crm',
				status: 'warn',
				ageMs: 2_400_000,
				reason: 'late',
				checkedAt: '2026-12-02T09:00:00Z',
			},
			{ source: HOSTILE, status: 'stale', ageMs: null, reason: HOSTILE, checkedAt: 'not a date' },
		],
	};
}

function budget(
	name: string,
	scopeKey: string,
	status: 'within' | 'warn' | 'exceeded',
	percent: number,
) {
	return {
		name,
		scopeKey,
		period: 'day',
		spentUsd: percent / 10,
		limitUsd: 10,
		spentTokens: 0,
		limitTokens: null,
		percent,
		status,
		resetAt: '2026-12-02T23:00:00.000Z',
	};
}

function queue(
	status: DashboardData['queues'][number]['status'],
	depth: number | null,
	oldestAgeMs: number | null,
) {
	return {
		source: 'redis',
		queue: `jobs-${status}`,
		status,
		depth,
		oldestAgeMs,
		reason: '',
		checkedAt: '2026-12-02T09:14:30Z',
	};
}

function emptyData(): DashboardData {
	return {
		...sample(),
		costByDay: [],
		recent: { ...sample().recent, calls: 0, failuresByClass: {} },
		latencyByModel: [],
		costPerOutcome: [],
		budgets: [],
		breakers: [],
		queues: [],
		freshness: [],
	};
}

/** The text of the panel with this id (panels don't nest). */
function panel(html: string, id: string): string {
	const m = html.match(new RegExp(`<section class="[^"]*" id="${id}">([\\s\\S]*?)</section>`));
	if (!m) throw new Error(`no panel ${id}`);
	return m[1];
}

/** Structural checks that need no browser: balanced svg/section/table, no script, no URLs. */
function expectSafeDocument(html: string) {
	expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
	expect(html).toContain('<meta charset="utf-8">');
	expect(html).toMatch(/<\/html>\s*$/);
	expect(html.toLowerCase()).not.toContain('<script');
	// The SVG namespace is a name, not a fetch; nothing else may reference the network.
	expect(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '')).not.toMatch(
		/https?:|\/\/[a-z]/i,
	);
	expect(html).not.toMatch(/<img|<link|<iframe|@import|url\(/i);
	for (const tag of ['svg', 'section', 'table', 'ul', 'title', 'text']) {
		const opened = html.match(new RegExp(`<${tag}[\\s>]`, 'g'))?.length ?? 0;
		const closed = html.match(new RegExp(`</${tag}>`, 'g'))?.length ?? 0;
		expect([tag, closed]).toEqual([tag, opened]);
	}
	// Every attribute value is quoted and closed: no raw quote or angle bracket left inside a tag.
	for (const tag of html.match(/<[a-z][^>]*>/gi) ?? [])
		expect(tag).toMatch(/^<[a-z][a-z0-9-]*(\s+[a-z0-9-]+(="[^"<]*")?)*\s*\/?>$/i);
}

describe('renderDashboard', () => {
	const html = renderDashboard(sample());

	it('is a complete, offline, script-free document with every panel', () => {
		expectSafeDocument(html);
		expect(html).toContain('<title>AI usage — n8n-nodes-ai-patterns</title>');
		expect(html).toContain('name="viewport"');
		for (const id of [
			'tiles',
			'cost-by-day',
			'calls-by-outcome',
			'latency',
			'cost-per-outcome',
			'budgets',
			'breakers',
			'queues',
			'freshness',
		]) {
			expect(panel(html, id)).toMatch(/<h2>/);
		}
	});

	it('escapes hostile text everywhere, including SVG titles and attributes', () => {
		expect(html).not.toContain(HOSTILE);
		expect(html).not.toContain('<img');
		expect(html.split(HOSTILE_ESCAPED).length - 1).toBeGreaterThanOrEqual(10);
		expect(html).toContain(`&lt;img src=x onerror=alert(1)&gt; 2026-11-19: $0.00200</title>`);
		expect(html).toContain(`Failed: &quot;${HOSTILE_ESCAPED}`);
		expect(renderDashboard({ ...sample(), store: `"'&` })).toContain('&quot;&#39;&amp;');
	});

	it('shows the header and tiles', () => {
		expect(html).toContain('Redis at 127.0.0.1:6379');
		expect(html).toContain('2026-12-02 10:15'); // generatedAt in Europe/Berlin
		const tiles = panel(html, 'tiles');
		for (const text of [
			'1,240',
			'$2.35',
			'1.6M',
			'1,234,567 in · 345,678 out',
			'4.0 %',
			'64',
			'12',
			'6.8 %',
			'p50 840 ms',
			'3.12 s',
		]) {
			expect(tiles).toContain(`>${text}<`);
		}
	});

	it('stacks cost bars with heights proportional to cost and a tooltip per bar', () => {
		const chart = panel(html, 'cost-by-day');
		const bars = [...chart.matchAll(/<rect [^>]*height="([\d.]+)"[^>]*><title>([^<]*)<\/title>/g)];
		// support 14 days + untagged on 5 days + hostile 14 days.
		expect(bars).toHaveLength(33);
		const height = (title: string) => Number(bars.find((b) => b[2] === title)?.[1]);
		const base = height('support 2026-11-19: $0.50');
		expect(height('support 2026-12-02: $1.80') / base).toBeCloseTo(1.8 / 0.5, 1);
		expect(height('untagged 2026-11-19: $0.25') / base).toBeCloseTo(0.5, 1);
		// On one day the segments sit on one another.
		const [a, b] = ['support 2026-11-19: $0.50', 'untagged 2026-11-19: $0.25'].map((t) => {
			const bar = bars.find((m) => m[2] === t)![0];
			return {
				y: Number(bar.match(/ y="([\d.]+)"/)![1]),
				h: Number(bar.match(/height="([\d.]+)"/)![1]),
			};
		});
		expect(b.y + b.h).toBeCloseTo(a.y, 1);
		// Y axis: the largest day is $1.80+, so ticks $0.00 … $2.00.
		expect(chart).toContain('>$0.00</text>');
		expect(chart).toContain('>$2.00</text>');
		expect(chart).toContain('>12-02</text>');
		// Legend: largest tag first, untagged named.
		expect(chart.indexOf('support')).toBeLessThan(chart.indexOf('untagged'));
	});

	it('splits failed calls by class and shows counts', () => {
		const p = panel(html, 'calls-by-outcome');
		for (const label of [
			'Succeeded',
			'Cached',
			'Simulated',
			'Failed: timeout',
			'Failed: rate_limited',
		]) {
			expect(p).toContain(`>${label}<`);
		}
		expect(p).toContain('>1,100<');
		expect(p).toContain('>30<');
	});

	it('shows latency per model, cost per outcome, budgets, breakers, queues and freshness', () => {
		expect(panel(html, 'latency')).toContain('gpt-4o-mini');
		expect(panel(html, 'latency')).toContain('4.80 s');
		const outcome = panel(html, 'cost-per-outcome');
		expect(outcome).toContain('<td>$0.02</td>');
		expect(outcome).toMatch(/<td>triage<\/td><td>0<\/td><td>\$1.10<\/td><td>—<\/td>/);
		const budgets = panel(html, 'budgets');
		expect(budgets).toContain('class="badge status-exceeded"');
		expect(budgets).toContain('class="badge status-warn"');
		expect(budgets).toContain('class="badge status-within"');
		expect(budgets).toContain('style="width:100%"'); // 130 % capped
		expect(budgets).toContain('130 %');
		expect(budgets).toContain('>all<');
		const breakers = panel(html, 'breakers');
		for (const s of ['closed', 'half-open', 'open'])
			expect(breakers).toContain(`class="badge status-${s}"`);
		const queues = panel(html, 'queues');
		for (const s of ['normal', 'warn', 'critical', 'unknown'])
			expect(queues).toContain(`status-${s}`);
		for (const t of ['45 s', '3 min', '2 h', '5,000']) expect(queues).toContain(`<td>${t}</td>`);
		const fresh = panel(html, 'freshness');
		for (const s of ['fresh', 'warn', 'stale']) expect(fresh).toContain(`status-${s}`);
		expect(fresh).toContain('<td>40 min</td>');
		expect(fresh).toContain('not a date');
	});

	it('shows hints instead of empty panels', () => {
		const e = renderDashboard(emptyData());
		expectSafeDocument(e);
		expect(e).not.toContain('<svg');
		expect(panel(e, 'cost-by-day')).toContain('No AI calls in this window yet');
		expect(panel(e, 'budgets')).toContain('No budgets yet: set Budgets on an AI Call');
		expect(panel(e, 'queues')).toContain('No Queue Depth Check has run yet');
		expect(panel(e, 'freshness')).toContain('Turn on Publish Status in a Freshness Check');
		expect(panel(e, 'breakers')).toContain('No AI Call with a circuit breaker has run yet');
		expect(panel(e, 'cost-per-outcome')).toContain('No outcomes yet');
	});

	it('draws NaN, Infinity and negative numbers as 0 or —, and a bad time zone as UTC', () => {
		const d = sample();
		d.timeZone = 'Not/AZone';
		d.recent = {
			...d.recent,
			calls: NaN,
			costUsd: -5,
			inputTokens: Infinity,
			latencyP50Ms: -1,
			cacheHitRate: NaN,
		};
		d.costByDay = [{ tag: 'x', costUsd: [NaN, -1, Infinity, 1e300, 2] }];
		const out = renderDashboard(d);
		expectSafeDocument(out);
		expect(out).not.toMatch(/NaN|Infinity|-\$|\$-/);
		expect(out).toContain('UTC');
		const tiles = panel(out, 'tiles');
		expect(tiles).toContain('>$0.00<');
		expect(tiles).toContain('>—<');
	});
});

describe('formatting', () => {
	it('formats money, durations and ages', () => {
		expect(usd(0)).toBe('$0.00');
		expect(usd(0.0012346)).toBe('$0.00123');
		expect(usd(0.00004)).toBe('$0.0000400');
		expect(usd(1234.5)).toBe('$1,234.50');
		expect(duration(45)).toBe('45 ms');
		expect(duration(1500)).toBe('1.50 s');
		expect(duration(null)).toBe('—');
		expect([age(45_000), age(180_000), age(7_200_000), age(3 * 86_400_000)]).toEqual([
			'45 s',
			'3 min',
			'2 h',
			'3 d',
		]);
	});

	it('picks 3 to 5 nice ticks covering the maximum', () => {
		fc.assert(
			fc.property(fc.double({ min: 1e-9, max: 1e16, noNaN: true }), (max) => {
				const { top, step } = niceScale(max);
				const ticks = Math.round(top / step) + 1;
				expect(top).toBeGreaterThanOrEqual(max * (1 - 1e-9));
				expect(ticks).toBeGreaterThanOrEqual(3);
				expect(ticks).toBeLessThanOrEqual(5);
				expect(String(step / 10 ** Math.floor(Math.log10(step)))).toMatch(/^(1|2|2\.5|5)(0*\d)?$/);
			}),
		);
	});
});

describe('never throws on odd data', () => {
	const num = fc.oneof(
		fc.double(),
		fc.integer(),
		fc.constant(NaN),
		fc.constant(-Infinity),
		fc.constant(1e308),
	);
	const text = fc.oneof(
		fc.string().filter((s) => !/NaN|Infinity/.test(s)),
		fc.constant(HOSTILE),
		fc.constant(''),
	);
	const maybeNum = fc.option(num, { nil: null });

	it('renders any shape of numbers and strings safely', () => {
		fc.assert(
			fc.property(
				fc.record({
					days: fc.array(text, { maxLength: 40 }),
					costByDay: fc.array(fc.record({ tag: text, costUsd: fc.array(num, { maxLength: 45 }) }), {
						maxLength: 14,
					}),
					nums: fc.array(num, { minLength: 14, maxLength: 14 }),
					latency: maybeNum,
					tz: text,
					when: text,
					status: text,
					failures: fc.dictionary(text, num),
				}),
				(r) => {
					const base = sample();
					const [
						calls,
						succeeded,
						cached,
						simulated,
						failed,
						retries,
						fallbacks,
						costUsd,
						inputTokens,
						outputTokens,
						pct,
						depth,
						age,
						limit,
					] = r.nums;
					const data: DashboardData = {
						...base,
						timeZone: r.tz,
						generatedAt: r.when,
						days: r.days,
						costByDay: r.costByDay,
						recent: {
							calls,
							succeeded,
							cached,
							simulated,
							failed,
							failuresByClass: r.failures,
							retries,
							fallbacks,
							costUsd,
							inputTokens,
							outputTokens,
							cacheHitRate: r.latency,
							latencyP50Ms: r.latency,
							latencyP95Ms: pct,
						},
						latencyByModel: [
							{ provider: r.status, model: r.status, calls, p50Ms: r.latency, p95Ms: pct },
						],
						budgets: [
							{
								...base.budgets[0],
								percent: pct,
								spentUsd: costUsd,
								limitUsd: limit,
								status: r.status as 'warn',
								resetAt: r.when,
							},
						],
						queues: [
							{
								...base.queues[0],
								depth,
								oldestAgeMs: age,
								status: r.status as 'warn',
								checkedAt: r.when,
							},
						],
						breakers: [{ name: r.status, state: r.status as 'open', seenAt: r.when }],
					};
					const out = renderDashboard(data);
					expect(out).not.toMatch(/NaN|Infinity/);
					expect(out).not.toContain('<img');
					const svgs = out.match(/<svg/g)?.length ?? 0;
					expect(out.match(/<\/svg>/g)?.length ?? 0).toBe(svgs);
				},
			),
			{ numRuns: 200 },
		);
	});
});
