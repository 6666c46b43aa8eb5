/**
 * The usage ledger: one event per AI Call item (answered, failed, cached, simulated or refused),
 * rolled up per minute, hour and day in the state store, and business outcomes counted per tag,
 * so that cost per outcome = cost of the tagged calls / outcomes. Writes are batched per process
 * (a call only appends to a buffer) and flushed within FLUSH_MS, so a crash loses at most about
 * the last second; a store that fails never fails a call: the batch is kept for the next flush,
 * and what had to be dropped is counted.
 */
import { DateTime } from 'luxon';

import { beforeStoresClose } from '../stores/index';
import { describeValue } from '../values';
import type { CounterAdd, CounterRow, StateStore, StoredEvent } from '../stores/types';
import type { CallResult } from './policy';

/** One AI Call item, as the ledger keeps it. */
export interface UsageEvent extends CallResult {
	workflowId: string;
	workflowName: string;
	executionId: string;
	node: string;
	tag: string | null;
}

/** Latency histogram upper bounds (ms); the last bucket is everything above. */
export const LATENCY_BOUNDS_MS = [
	10, 25, 50, 75, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000, 6000, 10_000, 15_000, 30_000,
	60_000, 120_000,
] as const;

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Roll-up granularities and how long each is kept: a year of heavy traffic stays a few rows a day. */
export const GRANULARITIES = [
	{ name: 'minute', ms: MINUTE, keepMs: 2 * DAY },
	{ name: 'hour', ms: HOUR, keepMs: 92 * DAY },
	{ name: 'day', ms: DAY, keepMs: 400 * DAY },
] as const;
export type Granularity = (typeof GRANULARITIES)[number]['name'];

export const USAGE_NS = (g: Granularity) => `usage:${g}`;
export const OUTCOMES_NS = (g: Granularity | 'total') => `usage:outcomes:${g}`;
export const EVENTS_NS = 'usage:events';
/**
 * Totals since the first call, in one bucket (0) that is kept for years: the metrics' counters.
 * Keys are JSON of TotalDims; a bounded set (no execution ids).
 */
export const TOTALS_NS = 'usage:total';
/** Shared-limit totals per limit name: waits, wait_ms, refusals, provider_429. */
export const LIMIT_TOTALS_NS = 'usage:limits:total';
// a bucket is kept until bucket + ttl: bucket 0 with this is kept until 2100
const TOTALS_KEEP_MS = Date.UTC(2100, 0, 1);

/** The dimensions of a total: what the metrics label calls by. */
export type TotalDims = [provider: string, model: string, tag: string, workflow: string];
export const DEFAULT_EVENT_DAYS = 7;

const NANO = 1e9;

/** The dimensions of a roll-up row, in its key: bounded (no execution ids). */
type Dims = [
	workflowId: string,
	workflowName: string,
	node: string,
	provider: string,
	model: string,
	tag: string,
];

function fieldsOf(e: UsageEvent): Record<string, number> {
	const f: Record<string, number> = {
		calls: 1,
		[e.outcome]: 1,
		attempts: e.attempts,
		retries: e.retries,
		timeouts: e.timeouts,
		fallbacks: e.fallbackUsed ? 1 : 0,
		in_tokens: e.inputTokens,
		out_tokens: e.outputTokens,
		cost_nusd: Math.round(e.cost.totalUsd * NANO),
	};
	if (e.outcome === 'failed') f[`f_${e.failureClass ?? 'unknown'}`] = 1;
	for (const [c, n] of Object.entries(e.retryClasses ?? {})) f[`r_${c}`] = n ?? 0;
	if (e.fallbackUsed) f[`fb_${e.fallbackClass ?? 'unknown'}`] = 1;
	if (e.cache === 'miss') f.cache_miss = 1;
	if (!e.cost.priced && e.inputTokens + e.outputTokens > 0) f.unpriced = 1;
	// latency of calls that reached the service (a cache read or a drill says nothing about it)
	if (e.attempts > 0) {
		f.latency_ms = Math.round(e.latencyMs);
		let b = LATENCY_BOUNDS_MS.findIndex((bound) => e.latencyMs <= bound);
		if (b < 0) b = LATENCY_BOUNDS_MS.length;
		f[`lat_${b}`] = 1;
	}
	for (const k of Object.keys(f)) if (!f[k]) delete f[k];
	return f;
}

const bucketOf = (at: number, ms: number) => Math.floor(at / ms) * ms;

/** The store writes for a batch: three roll-ups per event, and the raw events. */
export function rollUp(
	events: UsageEvent[],
	outcomes: OutcomeRecord[],
): {
	usage: Map<Granularity, CounterAdd[]>;
	outcomes: Map<Granularity, CounterAdd[]>;
	totals: CounterAdd[];
	outcomeTotals: CounterAdd[];
} {
	const usage = new Map<Granularity, CounterAdd[]>();
	const counted = new Map<Granularity, CounterAdd[]>();
	for (const g of GRANULARITIES) {
		usage.set(
			g.name,
			summed(
				events.map((e) => {
					const dims: Dims = [
						e.workflowId,
						e.workflowName,
						e.node,
						e.provider,
						e.model,
						e.tag ?? '',
					];
					return { bucket: bucketOf(e.at, g.ms), key: JSON.stringify(dims), fields: fieldsOf(e) };
				}),
			),
		);
		counted.set(
			g.name,
			summed(
				outcomes.map((o) => ({
					bucket: bucketOf(o.at, g.ms),
					key: o.tag,
					fields: { count: o.count },
				})),
			),
		);
	}
	const totals = summed(
		events.map((e) => {
			const dims: TotalDims = [e.provider, e.model, e.tag ?? '', e.workflowName];
			return { bucket: 0, key: JSON.stringify(dims), fields: fieldsOf(e) };
		}),
	);
	const outcomeTotals = summed(
		outcomes.map((o) => ({ bucket: 0, key: o.tag, fields: { count: o.count } })),
	);
	return { usage, outcomes: counted, totals, outcomeTotals };
}

/** Adds to the same bucket and key summed into one (a busy minute is one row, not thousands). */
function summed(adds: CounterAdd[]): CounterAdd[] {
	const byRow = new Map<string, CounterAdd>();
	for (const add of adds) {
		const id = `${add.bucket}\u0000${add.key}`;
		const row = byRow.get(id);
		if (!row) {
			byRow.set(id, { ...add, fields: { ...add.fields } });
			continue;
		}
		for (const [f, v] of Object.entries(add.fields)) row.fields[f] = (row.fields[f] ?? 0) + v;
	}
	return [...byRow.values()];
}

export interface OutcomeRecord {
	at: number;
	tag: string;
	count: number;
}

export type LedgerWarn = (message: string) => void;

/** How long a call's event may wait in the buffer (a crash loses at most this, plus one write). */
export const FLUSH_MS = 500;
/** Events (and outcomes) per store write. */
const WRITE_SLICE = 1000;
/** Events kept while the store is down; older ones are dropped and counted as missed. */
const MAX_BUFFER = 20_000;

/** The per-process batching writer of one store. */
export class LedgerWriter {
	private events: UsageEvent[] = [];
	private outcomes: OutcomeRecord[] = [];
	private tallies: CounterAdd[] = [];
	private eventTtlMs = DEFAULT_EVENT_DAYS * DAY;
	private timer: NodeJS.Timeout | undefined;
	private flushing: Promise<void> | undefined;
	private warned = false;
	/** Events and outcomes dropped because the store failed for too long (this process). */
	missed = 0;
	/** Written so far (this process). */
	written = 0;
	warn: LedgerWarn = () => undefined;

	constructor(private readonly store: StateStore) {}

	record(event: UsageEvent, eventTtlMs: number): void {
		this.eventTtlMs = eventTtlMs;
		this.events.push(event);
		this.trim();
		this.schedule();
	}

	/** Adds to a shared limit's totals (waits, refusals), written with the next batch. */
	tallyLimit(limit: string, fields: Record<string, number>): void {
		this.tallies.push({ bucket: 0, key: limit, fields });
		if (this.tallies.length > 1000) this.tallies = summed(this.tallies);
		this.schedule();
	}

	recordOutcome(outcome: OutcomeRecord): void {
		this.outcomes.push(outcome);
		this.trim();
		this.schedule();
	}

	/** Writes everything buffered so far; resolves once it is in the store (or failed and kept). */
	async flush(): Promise<void> {
		while (this.flushing) await this.flushing;
		if (!this.events.length && !this.outcomes.length && !this.tallies.length) return;
		this.flushing = this.write().finally(() => (this.flushing = undefined));
		await this.flushing;
	}

	private schedule(): void {
		if (this.timer) return;
		this.timer = setTimeout(() => {
			this.timer = undefined;
			void this.flush();
		}, FLUSH_MS);
		// n8n exits on its own terms; a pending flush must not keep a test or a CLI alive
		this.timer.unref();
	}

	private trim(): void {
		const over = this.events.length + this.outcomes.length - MAX_BUFFER;
		if (over <= 0) return;
		const fromEvents = Math.min(over, this.events.length);
		this.events.splice(0, fromEvents);
		this.outcomes.splice(0, over - fromEvents);
		this.missed += over;
	}

	private async write(): Promise<void> {
		// in slices: a burst of thousands of calls is several modest writes, not one huge one
		while (this.events.length || this.outcomes.length || this.tallies.length) {
			const before = this.events.length + this.outcomes.length + this.tallies.length;
			await this.writeSlice();
			// a failed slice went back into the buffer: the next flush tries again
			if (this.events.length + this.outcomes.length + this.tallies.length >= before) return;
		}
	}

	private async writeSlice(): Promise<void> {
		const events = this.events.splice(0, WRITE_SLICE);
		const outcomes = this.outcomes.splice(0, WRITE_SLICE);
		const { usage, outcomes: counted, totals, outcomeTotals } = rollUp(events, outcomes);
		const tallies = summed(this.tallies.splice(0));
		try {
			const writes: Array<Promise<void>> = [];
			for (const g of GRANULARITIES) {
				writes.push(this.store.addCounters(USAGE_NS(g.name), usage.get(g.name)!, g.keepMs));
				writes.push(this.store.addCounters(OUTCOMES_NS(g.name), counted.get(g.name)!, g.keepMs));
			}
			writes.push(this.store.addCounters(TOTALS_NS, totals, TOTALS_KEEP_MS));
			writes.push(this.store.addCounters(OUTCOMES_NS('total'), outcomeTotals, TOTALS_KEEP_MS));
			if (tallies.length)
				writes.push(this.store.addCounters(LIMIT_TOTALS_NS, tallies, TOTALS_KEEP_MS));
			const raw: StoredEvent[] = events.map((e) => ({ at: e.at, value: e }));
			writes.push(this.store.appendEvents(EVENTS_NS, raw, this.eventTtlMs));
			// all or nothing is not possible across namespaces: a half-written batch is not retried
			// (it would count twice); a batch that failed everywhere is kept for the next flush
			const settled = await Promise.allSettled(writes);
			const failed = settled.filter((s) => s.status === 'rejected') as PromiseRejectedResult[];
			if (failed.length === settled.length) throw failed[0].reason;
			if (failed.length) {
				this.missed += events.length + outcomes.length;
				this.warn(
					`AI Usage: the ledger store failed for part of a batch of ${events.length} calls and ${outcomes.length} outcomes; the report may miss them (${(failed[0].reason as Error).message})`,
				);
				return;
			}
			this.written += events.length + outcomes.length;
			this.warned = false;
		} catch (error) {
			this.events = [...events, ...this.events];
			this.outcomes = [...outcomes, ...this.outcomes];
			this.tallies = [...tallies, ...this.tallies];
			this.trim();
			if (!this.warned) {
				this.warned = true;
				this.warn(
					`AI Usage: the ledger store failed, ${events.length + outcomes.length} records are kept to write again (${(error as Error).message})`,
				);
			}
			this.schedule();
		}
	}
}

const writers = new Map<StateStore, LedgerWriter>();
// closing the stores (tests, a CLI) first writes what the calls left in the buffers
beforeStoresClose(async () => {
	const all = [...writers.values()];
	writers.clear();
	await Promise.allSettled(all.map(async (w) => await w.flush()));
});

/** The process's writer for this store (stores are shared per process, lib/stores/index.ts). */
export function ledgerFor(store: StateStore): LedgerWriter {
	let writer = writers.get(store);
	if (!writer) writers.set(store, (writer = new LedgerWriter(store)));
	return writer;
}

// ---------------------------------------------------------------------------------------------
// Report

export type GroupBy = 'none' | 'tag' | 'model' | 'workflow' | 'node' | 'hour' | 'day';

export interface ReportQuery {
	from: number;
	to: number;
	groupBy: GroupBy;
	/** For hour and day groups. */
	timeZone: string;
	/** Only calls with this cost tag / of this workflow (id). */
	tag?: string;
	workflowId?: string;
	now?: number;
}

export interface ReportRow {
	group: Record<string, string | null>;
	from: string;
	to: string;
	granularity: Granularity;
	calls: number;
	succeeded: number;
	failed: number;
	cached: number;
	simulated: number;
	attempts: number;
	retries: number;
	timeouts: number;
	fallbacks: number;
	inputTokens: number;
	outputTokens: number;
	totalTokens: number;
	costUsd: number;
	unpricedCalls: number;
	failuresByClass: Record<string, number>;
	cacheHitRate: number | null;
	latencyP50Ms: number | null;
	latencyP95Ms: number | null;
	/** Business outcomes per tag (Record Outcome) and the cost of that tag's calls per outcome. */
	outcomes?: Record<string, number>;
	costPerOutcome?: Record<string, number | null>;
}

/**
 * The finest roll-up still kept for the whole window. Its buckets are aligned to UTC, so a window
 * edge inside a bucket counts the whole bucket (the row says which window it covers).
 */
export function granularityFor(
	from: number,
	now: number,
	groupBy: GroupBy,
): (typeof GRANULARITIES)[number] {
	for (const g of GRANULARITIES) {
		if (groupBy === 'day' && g.ms > DAY) continue;
		if (groupBy === 'hour' && g.ms > HOUR) continue;
		if (from >= now - g.keepMs + g.ms) return g;
	}
	return groupBy === 'hour' ? GRANULARITIES[1] : GRANULARITIES[2];
}

export async function usageReport(store: StateStore, q: ReportQuery): Promise<ReportRow[]> {
	const g = granularityFor(q.from, q.now ?? Date.now(), q.groupBy);
	const from = bucketOf(q.from, g.ms);
	const to = bucketOf(q.to - 1, g.ms) + g.ms;
	const [rows, outcomeRows] = await Promise.all([
		store.readCounters(USAGE_NS(g.name), from, to),
		store.readCounters(OUTCOMES_NS(g.name), from, to),
	]);
	const groupOf = (bucket: number, dims: Dims): Record<string, string | null> => {
		const [workflowId, workflowName, node, , model, tag] = dims;
		switch (q.groupBy) {
			case 'tag':
				return { tag: tag || null };
			case 'model':
				return { model };
			case 'workflow':
				return { workflowId, workflowName };
			case 'node':
				return { workflowId, workflowName, node };
			case 'hour':
			case 'day':
				return { [q.groupBy]: periodLabel(bucket, q.groupBy, q.timeZone) };
			default:
				return {};
		}
	};
	const groups = new Map<
		string,
		{
			group: Record<string, string | null>;
			sums: Record<string, number>;
			costByTag: Map<string, number>;
		}
	>();
	const groupFor = (group: Record<string, string | null>) => {
		const id = JSON.stringify(group);
		let entry = groups.get(id);
		if (!entry) groups.set(id, (entry = { group, sums: {}, costByTag: new Map() }));
		return entry;
	};
	// one total even for a quiet window: a report of nothing says 0, not nothing
	if (q.groupBy === 'none') groupFor({});
	for (const row of rows) {
		const dims = parseDims(row);
		if (!dims) continue;
		if (q.tag !== undefined && dims[5] !== q.tag) continue;
		if (q.workflowId !== undefined && dims[0] !== q.workflowId) continue;
		const entry = groupFor(groupOf(row.bucket, dims));
		for (const [k, v] of Object.entries(row.fields)) entry.sums[k] = (entry.sums[k] ?? 0) + v;
		const tag = dims[5];
		if (tag)
			entry.costByTag.set(tag, (entry.costByTag.get(tag) ?? 0) + (row.fields.cost_nusd ?? 0));
	}
	// outcomes only mean something per tag and per time: not per model, workflow or node
	const withOutcomes = ['none', 'tag', 'hour', 'day'].includes(q.groupBy);
	const outcomesBy = new Map<string, Record<string, number>>();
	if (withOutcomes) {
		for (const row of outcomeRows) {
			if (q.tag !== undefined && row.key !== q.tag) continue;
			const group =
				q.groupBy === 'tag'
					? { tag: row.key }
					: q.groupBy === 'none'
						? {}
						: { [q.groupBy]: periodLabel(row.bucket, q.groupBy as 'hour' | 'day', q.timeZone) };
			const entry = groupFor(group);
			const id = JSON.stringify(entry.group);
			const counts = outcomesBy.get(id) ?? {};
			counts[row.key] = (counts[row.key] ?? 0) + (row.fields.count ?? 0);
			outcomesBy.set(id, counts);
		}
	}
	const window = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
	const result = [...groups.entries()].map(([id, { group, sums, costByTag }]) => {
		const n = (k: string) => sums[k] ?? 0;
		const failuresByClass: Record<string, number> = {};
		for (const [k, v] of Object.entries(sums))
			if (k.startsWith('f_')) failuresByClass[k.slice(2)] = v;
		const histogram = LATENCY_BOUNDS_MS.map((_, i) => n(`lat_${i}`)).concat(
			n(`lat_${LATENCY_BOUNDS_MS.length}`),
		);
		const row: ReportRow = {
			group,
			...window,
			granularity: g.name,
			calls: n('calls'),
			succeeded: n('success'),
			failed: n('failed'),
			cached: n('cached'),
			simulated: n('simulated'),
			attempts: n('attempts'),
			retries: n('retries'),
			timeouts: n('timeouts'),
			fallbacks: n('fallbacks'),
			inputTokens: n('in_tokens'),
			outputTokens: n('out_tokens'),
			totalTokens: n('in_tokens') + n('out_tokens'),
			costUsd: n('cost_nusd') / NANO,
			unpricedCalls: n('unpriced'),
			failuresByClass,
			// of the items that asked the cache; none asked: null
			cacheHitRate:
				n('cached') + n('cache_miss') > 0 ? n('cached') / (n('cached') + n('cache_miss')) : null,
			latencyP50Ms: percentile(histogram, 0.5),
			latencyP95Ms: percentile(histogram, 0.95),
		};
		if (withOutcomes) {
			const outcomes = outcomesBy.get(id) ?? {};
			const tags =
				q.groupBy === 'tag'
					? group.tag
						? [group.tag]
						: []
					: [...new Set([...Object.keys(outcomes), ...costByTag.keys()])];
			row.outcomes = {};
			row.costPerOutcome = {};
			for (const tag of tags.sort()) {
				const count = outcomes[tag] ?? 0;
				row.outcomes[tag] = count;
				row.costPerOutcome[tag] = count > 0 ? (costByTag.get(tag) ?? 0) / NANO / count : null;
			}
		}
		return row;
	});
	return result.sort((a, b) => JSON.stringify(a.group).localeCompare(JSON.stringify(b.group)));
}

function parseDims(row: CounterRow): Dims | undefined {
	try {
		const dims = JSON.parse(row.key) as unknown;
		return Array.isArray(dims) && dims.length === 6 ? (dims as Dims) : undefined;
	} catch {
		return undefined;
	}
}

function periodLabel(bucket: number, unit: 'hour' | 'day', timeZone: string): string {
	const t = DateTime.fromMillis(bucket, { zone: timeZone }).startOf(unit);
	return (unit === 'day' ? t.toISODate() : t.toISO({ suppressMilliseconds: true })) ?? '';
}

/**
 * A percentile from the histogram, interpolated inside its bucket (so within the bucket's bounds,
 * e.g. 400–600 ms); the open last bucket reports its lower bound.
 */
export function percentile(histogram: number[], p: number): number | null {
	const total = histogram.reduce((a, b) => a + b, 0);
	if (!total) return null;
	const rank = p * total;
	let seen = 0;
	for (let i = 0; i < histogram.length; i++) {
		if (!histogram[i]) continue;
		if (seen + histogram[i] >= rank) {
			const low = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
			if (i >= LATENCY_BOUNDS_MS.length) return low;
			const high = LATENCY_BOUNDS_MS[i];
			return Math.round(low + ((rank - seen) / histogram[i]) * (high - low));
		}
		seen += histogram[i];
	}
	return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1];
}

/** The report's window [from, to) in epoch ms, or what is wrong with it. */
export function reportWindow(
	window: string,
	fromValue: unknown,
	toValue: unknown,
	zone: string,
	now: number,
): { from: number; to: number } | string {
	const t = DateTime.fromMillis(now, { zone });
	const day = t.startOf('day');
	switch (window) {
		case 'lastHour':
			return { from: now - 3_600_000, to: now };
		case 'last24h':
			return { from: now - 86_400_000, to: now };
		case 'today':
			return { from: day.toMillis(), to: now };
		case 'yesterday':
			return { from: day.minus({ days: 1 }).toMillis(), to: day.toMillis() };
		case 'last7d':
			return { from: now - 7 * 86_400_000, to: now };
		case 'thisMonth':
			return { from: t.startOf('month').toMillis(), to: now };
		case 'last30d':
			return { from: now - 30 * 86_400_000, to: now };
		case 'custom': {
			const parse = (value: unknown, label: string): number | string => {
				if (value === '' || value === undefined || value === null)
					return label === 'To' ? now : `"From" is empty`;
				const d =
					value instanceof Date
						? DateTime.fromJSDate(value)
						: DateTime.isDateTime(value)
							? value
							: typeof value === 'number'
								? DateTime.fromMillis(value)
								: DateTime.fromISO(String(value), { zone });
				return d.isValid ? d.toMillis() : `"${label}" is not a date (${describeValue(value)})`;
			};
			const from = parse(fromValue, 'From');
			const to = parse(toValue, 'To');
			if (typeof from === 'string') return from;
			if (typeof to === 'string') return to;
			if (to <= from) return '"To" must be after "From"';
			return { from, to };
		}
		default:
			return `"Window" has no such choice: ${describeValue(window)}`;
	}
}
