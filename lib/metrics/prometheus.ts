/**
 * The Prometheus text exposition (format 0.0.4) of a Snapshot: counters from the ledger's totals
 * (since the first call; Prometheus's rate() makes them per second), gauges from the last known
 * states. Names follow Prometheus's conventions (prefix ai_patterns_, base units: seconds and USD,
 * `_total` on counters); labels are bounded sets: provider, model, cost tag, workflow name, class,
 * and the names of limits, budgets, breakers, queues and sources — never execution ids.
 */
import { LATENCY_BOUNDS_MS } from '../ai/ledger';
import type { CallTotals, Snapshot } from './collect';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const PREFIX = 'ai_patterns_';

type Labels = Record<string, string>;
interface Sample {
	suffix?: string;
	labels: Labels;
	value: number;
}
interface Family {
	name: string;
	type: 'counter' | 'gauge' | 'histogram';
	help: string;
	samples: Sample[];
}

const escapeLabel = (v: string) =>
	v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function number(v: number): string {
	if (Number.isNaN(v)) return 'NaN';
	if (v === Infinity) return '+Inf';
	if (v === -Infinity) return '-Inf';
	return String(v);
}

export function formatFamilies(families: Family[]): string {
	const lines: string[] = [];
	for (const f of families) {
		const name = PREFIX + f.name;
		lines.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type}`);
		for (const s of f.samples) {
			const labels = Object.entries(s.labels)
				.map(([k, v]) => `${k}="${escapeLabel(v)}"`)
				.join(',');
			lines.push(`${name}${s.suffix ?? ''}${labels ? `{${labels}}` : ''} ${number(s.value)}`);
		}
	}
	return lines.join('\n') + '\n';
}

const callLabels = (c: CallTotals): Labels => ({
	provider: c.provider,
	model: c.model,
	tag: c.tag,
	workflow: c.workflow,
});

/** One sample per call row and field; `by` splits fields with a prefix into a label. */
function fromCalls(
	calls: CallTotals[],
	field: string | ((fields: Record<string, number>) => number),
	scale = 1,
): Sample[] {
	return calls.map((c) => ({
		labels: callLabels(c),
		value: (typeof field === 'string' ? (c.fields[field] ?? 0) : field(c.fields)) * scale,
	}));
}

function byPrefix(calls: CallTotals[], prefix: string, label: string): Sample[] {
	const samples: Sample[] = [];
	for (const c of calls)
		for (const [k, v] of Object.entries(c.fields))
			if (k.startsWith(prefix))
				samples.push({ labels: { ...callLabels(c), [label]: k.slice(prefix.length) }, value: v });
	return samples;
}

const OUTCOMES = ['success', 'failed', 'cached', 'simulated'] as const;
const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
const BUDGET_STATES = ['within', 'warn', 'exceeded'] as const;
const QUEUE_STATES = ['normal', 'warn', 'critical', 'unknown'] as const;
const FRESHNESS_STATES = ['fresh', 'warn', 'stale'] as const;

/** One sample per state, 1 for the current one (Prometheus's "state set"). */
function stateSet(
	labels: Labels,
	states: readonly string[],
	current: string,
	key = 'state',
): Sample[] {
	return states.map((s) => ({ labels: { ...labels, [key]: s }, value: s === current ? 1 : 0 }));
}

function latencyHistogram(calls: CallTotals[]): Sample[] {
	// per provider and model: tag and workflow would multiply the buckets
	const byModel = new Map<string, { labels: Labels; fields: Record<string, number> }>();
	for (const c of calls) {
		const id = JSON.stringify([c.provider, c.model]);
		let m = byModel.get(id);
		if (!m) byModel.set(id, (m = { labels: { provider: c.provider, model: c.model }, fields: {} }));
		for (const [k, v] of Object.entries(c.fields)) m.fields[k] = (m.fields[k] ?? 0) + v;
	}
	const samples: Sample[] = [];
	for (const { labels, fields } of byModel.values()) {
		let cumulative = 0;
		LATENCY_BOUNDS_MS.forEach((bound, i) => {
			cumulative += fields[`lat_${i}`] ?? 0;
			samples.push({
				suffix: '_bucket',
				labels: { ...labels, le: number(bound / 1000) },
				value: cumulative,
			});
		});
		cumulative += fields[`lat_${LATENCY_BOUNDS_MS.length}`] ?? 0;
		samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: cumulative });
		samples.push({ suffix: '_sum', labels, value: (fields.latency_ms ?? 0) / 1000 });
		samples.push({ suffix: '_count', labels, value: cumulative });
	}
	return samples;
}

export function prometheusText(s: Snapshot, now = Date.now()): string {
	const { calls } = s;
	const seconds = (iso: string) => Date.parse(iso) / 1000;
	const families: Family[] = [
		{
			name: 'calls_total',
			type: 'counter',
			help: 'AI Call items by how they ended: success, failed, cached (from the response cache), simulated (a drill).',
			samples: calls.flatMap((c) =>
				OUTCOMES.filter((o) => c.fields[o]).map((o) => ({
					labels: { ...callLabels(c), outcome: o },
					value: c.fields[o],
				})),
			),
		},
		{
			name: 'call_failures_total',
			type: 'counter',
			help: 'Failed AI Call items by the failure class of their last attempt.',
			samples: byPrefix(calls, 'f_', 'class'),
		},
		{
			name: 'attempts_total',
			type: 'counter',
			help: 'Requests sent to AI services, counting retries, fallbacks and JSON repairs.',
			samples: fromCalls(calls, 'attempts'),
		},
		{
			name: 'retries_total',
			type: 'counter',
			help: 'Retries waited out, by the failure class that caused them.',
			samples: byPrefix(calls, 'r_', 'class'),
		},
		{
			name: 'attempt_timeouts_total',
			type: 'counter',
			help: 'Attempts that ran into their per-attempt timeout.',
			samples: fromCalls(calls, 'timeouts'),
		},
		{
			name: 'fallbacks_total',
			type: 'counter',
			help: 'Items answered (or failed) by a fallback model, by the failure class that moved them there; model is the fallback.',
			samples: byPrefix(calls, 'fb_', 'class'),
		},
		{
			name: 'input_tokens_total',
			type: 'counter',
			help: 'Prompt tokens the AI services reported.',
			samples: fromCalls(calls, 'in_tokens'),
		},
		{
			name: 'output_tokens_total',
			type: 'counter',
			help: 'Completion tokens the AI services reported.',
			samples: fromCalls(calls, 'out_tokens'),
		},
		{
			name: 'cost_usd_total',
			type: 'counter',
			help: 'Cost in US dollars at the configured prices (all attempts).',
			samples: fromCalls(calls, 'cost_nusd', 1e-9),
		},
		{
			name: 'unpriced_calls_total',
			type: 'counter',
			help: 'Items with tokens but no known price (their cost counts as 0).',
			samples: fromCalls(calls, 'unpriced'),
		},
		{
			name: 'cache_hits_total',
			type: 'counter',
			help: 'Items answered from the response cache.',
			samples: fromCalls(calls, 'cached'),
		},
		{
			name: 'cache_misses_total',
			type: 'counter',
			help: 'Items that asked the response cache and found no fresh answer.',
			samples: fromCalls(calls, 'cache_miss'),
		},
		{
			name: 'call_duration_seconds',
			type: 'histogram',
			help: 'Time from the first attempt to the answer or failure, for items that reached the service.',
			samples: latencyHistogram(calls),
		},
		{
			name: 'outcomes_total',
			type: 'counter',
			help: 'Business outcomes recorded by AI Usage (Record Outcome), by outcome tag; cost per outcome = rate(cost_usd_total{tag}) / rate(outcomes_total{tag}).',
			samples: s.outcomes.map((o) => ({ labels: { tag: o.tag }, value: o.count })),
		},
		...(
			[
				[
					'shared_limit_waits_total',
					'waits',
					'Attempts that waited for room in a shared limit.',
					1,
				],
				[
					'shared_limit_wait_seconds_total',
					'wait_ms',
					'Time attempts waited for room in a shared limit.',
					1e-3,
				],
				[
					'shared_limit_refusals_total',
					'refusals',
					'Attempts a shared limit refused after their Max Wait (no call was made).',
					1,
				],
				[
					'shared_limit_provider_rate_limits_total',
					'provider_429',
					'Rate-limit answers (429) from the provider that paused a shared limit.',
					1,
				],
			] as const
		).map(
			([name, field, help, scale]): Family => ({
				name,
				type: 'counter',
				help,
				samples: s.limits.map((l) => ({
					labels: { limit: l.limit },
					value: (l.fields[field] ?? 0) * scale,
				})),
			}),
		),
		{
			name: 'breaker_state',
			type: 'gauge',
			help: 'Circuit breaker state: 1 for the current one of closed, open, half-open.',
			samples: s.breakers.flatMap((b) => stateSet({ breaker: b.name }, BREAKER_STATES, b.state)),
		},
		...budgetFamilies(s),
		{
			name: 'queue_depth',
			type: 'gauge',
			help: 'Messages or jobs waiting, at the last Queue Depth Check of each queue.',
			samples: gauge(
				s.queues.map((q) => [{ source: q.value.source, queue: q.value.queue }, q.value.depth]),
			),
		},
		{
			name: 'queue_in_progress',
			type: 'gauge',
			help: 'Messages or jobs taken but not yet done, at the last Queue Depth Check.',
			samples: gauge(
				s.queues.map((q) => [{ source: q.value.source, queue: q.value.queue }, q.value.inProgress]),
			),
		},
		{
			name: 'queue_oldest_age_seconds',
			type: 'gauge',
			help: 'Age of the oldest waiting message or job, at the last Queue Depth Check.',
			samples: gauge(
				s.queues.map((q) => [
					{ source: q.value.source, queue: q.value.queue },
					q.value.oldestAgeMs === null ? null : q.value.oldestAgeMs / 1000,
				]),
			),
		},
		{
			name: 'queue_status',
			type: 'gauge',
			help: 'Queue status at the last Queue Depth Check: 1 for the current one of normal, warn, critical, unknown.',
			samples: s.queues.flatMap((q) =>
				stateSet(
					{ source: q.value.source, queue: q.value.queue },
					QUEUE_STATES,
					q.value.status,
					'status',
				),
			),
		},
		{
			name: 'queue_last_check_timestamp_seconds',
			type: 'gauge',
			help: 'When each queue was last checked (Unix time).',
			samples: gauge(
				s.queues.map((q) => [
					{ source: q.value.source, queue: q.value.queue },
					seconds(q.value.checkedAt),
				]),
			),
		},
		{
			name: 'freshness_status',
			type: 'gauge',
			help: 'Data freshness at the last Freshness Check of each source: 1 for the current one of fresh, warn, stale.',
			samples: s.freshness.flatMap((f) =>
				stateSet({ source: f.value.source }, FRESHNESS_STATES, f.value.status, 'status'),
			),
		},
		{
			name: 'freshness_age_seconds',
			type: 'gauge',
			help: 'Age of the data at the last Freshness Check (its worst item).',
			samples: gauge(
				s.freshness.map((f) => [
					{ source: f.value.source },
					f.value.ageMs === null ? null : f.value.ageMs / 1000,
				]),
			),
		},
		{
			name: 'freshness_last_check_timestamp_seconds',
			type: 'gauge',
			help: 'When each source was last checked (Unix time).',
			samples: gauge(
				s.freshness.map((f) => [{ source: f.value.source }, seconds(f.value.checkedAt)]),
			),
		},
		{
			name: 'metrics_generated_timestamp_seconds',
			type: 'gauge',
			help: 'When this page was made (Unix time).',
			samples: [{ labels: {}, value: now / 1000 }],
		},
	];
	return formatFamilies(families);
}

/** Gauges without a value (a queue that could not be read) are left out, not shown as 0. */
function gauge(values: Array<[Labels, number | null]>): Sample[] {
	return values.flatMap(([labels, value]) =>
		value === null || !Number.isFinite(value) ? [] : [{ labels, value }],
	);
}

function budgetFamilies(s: Snapshot): Family[] {
	const labelsOf = (b: Snapshot['budgets'][number]) => ({
		budget: b.name,
		scope: b.scopeKey || 'all',
		period: b.period,
	});
	const g = (
		name: string,
		help: string,
		value: (b: Snapshot['budgets'][number]) => number | null,
	): Family => ({
		name,
		type: 'gauge',
		help,
		samples: gauge(s.budgets.map((b) => [labelsOf(b), value(b)])),
	});
	return [
		g(
			'budget_spent_usd',
			'Spent (and held for calls in flight) this period, US dollars.',
			(b) => b.spentUsd + b.reservedUsd,
		),
		g(
			'budget_limit_usd',
			"The budget's limit in US dollars (where set).",
			(b) => b.limitUsd || null,
		),
		g(
			'budget_remaining_usd',
			'What is left this period, US dollars (where a limit is set).',
			(b) => b.remainingUsd,
		),
		g(
			'budget_spent_tokens',
			'Tokens spent (and held) this period.',
			(b) => b.spentTokens + b.reservedTokens,
		),
		g('budget_limit_tokens', "The budget's token limit (where set).", (b) => b.limitTokens || null),
		g(
			'budget_remaining_tokens',
			'Tokens left this period (where a token limit is set).',
			(b) => b.remainingTokens,
		),
		g(
			'budget_used_ratio',
			'Share of the tighter limit used this period (1 = all of it).',
			(b) => b.percent / 100,
		),
		{
			name: 'budget_status',
			type: 'gauge',
			help: 'Budget status: 1 for the current one of within, warn, exceeded.',
			samples: s.budgets.flatMap((b) => stateSet(labelsOf(b), BUDGET_STATES, b.status, 'status')),
		},
	];
}
