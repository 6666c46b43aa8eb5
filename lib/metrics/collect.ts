/**
 * Everything the metrics, the dashboard and the alerts read, gathered from one store: the
 * ledger's totals, and the last known state of breakers, budgets, queues and sources.
 */
import { DateTime } from 'luxon';

import { announcedBreakers } from '../ai/breakerPolicy';
import { BudgetBook, type BudgetState } from '../ai/budget';
import {
	LIMIT_TOTALS_NS,
	OUTCOMES_NS,
	TOTALS_NS,
	USAGE_NS,
	ledgerFor,
	usageReport,
	type TotalDims,
} from '../ai/ledger';
import type { CounterRow, StateStore } from '../stores/types';
import type { DashboardData } from './dashboardData';
import {
	readStatus,
	type FreshnessStatusEntry,
	type QueueStatusEntry,
	type StatusEntry,
} from './status';

export interface CallTotals {
	provider: string;
	model: string;
	tag: string;
	workflow: string;
	/** The ledger's fields (lib/ai/ledger.ts fieldsOf), summed since the first call. */
	fields: Record<string, number>;
}

export interface States {
	breakers: Array<{ name: string; state: 'closed' | 'open' | 'half-open'; seenAt: number }>;
	budgets: BudgetState[];
	queues: Array<StatusEntry<QueueStatusEntry>>;
	freshness: Array<StatusEntry<FreshnessStatusEntry>>;
}

export interface Snapshot extends States {
	calls: CallTotals[];
	outcomes: Array<{ tag: string; count: number }>;
	limits: Array<{ limit: string; fields: Record<string, number> }>;
}

const whole = (rows: CounterRow[]) => rows.filter((r) => r.bucket === 0);

/** The breakers, budgets, queues and sources as they stand now. */
export async function readStates(store: StateStore, now = Date.now()): Promise<States> {
	const [breakers, budgets, queues, freshness] = await Promise.all([
		announcedBreakers(store, now),
		new BudgetBook(store, { now: () => now }).announced(),
		readStatus<QueueStatusEntry>(store, 'queue', now),
		readStatus<FreshnessStatusEntry>(store, 'freshness', now),
	]);
	return { breakers, budgets, queues, freshness };
}

export async function readSnapshot(store: StateStore, now = Date.now()): Promise<Snapshot> {
	// this process's own buffered calls count too
	await ledgerFor(store).flush();
	const [totals, outcomes, limits, states] = await Promise.all([
		store.readCounters(TOTALS_NS, 0, 1),
		store.readCounters(OUTCOMES_NS('total'), 0, 1),
		store.readCounters(LIMIT_TOTALS_NS, 0, 1),
		readStates(store, now),
	]);
	const calls: CallTotals[] = [];
	for (const row of whole(totals)) {
		let dims: unknown;
		try {
			dims = JSON.parse(row.key);
		} catch {
			continue;
		}
		if (!Array.isArray(dims) || dims.length !== 4) continue;
		const [provider, model, tag, workflow] = (dims as TotalDims).map((d) => String(d ?? ''));
		calls.push({ provider, model, tag, workflow, fields: row.fields });
	}
	return {
		calls,
		outcomes: whole(outcomes).map((r) => ({ tag: r.key, count: r.fields.count ?? 0 })),
		limits: whole(limits).map((r) => ({ limit: r.key, fields: r.fields })),
		...states,
	};
}

const DAY = 86_400_000;

/** The dashboard's data: the last `days` days of cost by tag, the last 24 hours, the last 7 days. */
export async function readDashboard(
	store: StateStore,
	options: { timeZone: string; days?: number; now?: number },
): Promise<DashboardData> {
	const now = options.now ?? Date.now();
	const zone = options.timeZone;
	const dayCount = options.days ?? 14;
	await ledgerFor(store).flush();
	const today = DateTime.fromMillis(now, { zone }).startOf('day');
	const days = Array.from({ length: dayCount }, (_, i) => today.minus({ days: dayCount - 1 - i }));
	const dayIndex = new Map(days.map((d, i) => [d.toISODate()!, i]));
	const recentQuery = { from: now - DAY, to: now, timeZone: zone, now };
	const [hourRows, [recent], byModel, byTag, states] = await Promise.all([
		// hours, so that days are the time zone's days (the day roll-ups are UTC days)
		store.readCounters(USAGE_NS('hour'), days[0].toMillis(), now + 1),
		usageReport(store, { ...recentQuery, groupBy: 'none' }),
		usageReport(store, { ...recentQuery, groupBy: 'model' }),
		usageReport(store, { from: now - 7 * DAY, to: now, timeZone: zone, now, groupBy: 'tag' }),
		readStates(store, now),
	]);
	const costByTag = new Map<string, number[]>();
	for (const row of hourRows) {
		let tag = '';
		try {
			const dims = JSON.parse(row.key) as unknown[];
			tag = String(dims[5] ?? '');
		} catch {
			continue;
		}
		const day = DateTime.fromMillis(row.bucket, { zone }).toISODate();
		const i = day ? dayIndex.get(day) : undefined;
		if (i === undefined) continue;
		let costs = costByTag.get(tag);
		if (!costs) costByTag.set(tag, (costs = days.map(() => 0)));
		costs[i] += (row.fields.cost_nusd ?? 0) / 1e9;
	}
	const models = new Map<string, DashboardData['latencyByModel'][number]>();
	for (const row of byModel) {
		const model = row.group.model ?? '';
		models.set(model, {
			provider: '',
			model,
			calls: row.calls,
			p50Ms: row.latencyP50Ms,
			p95Ms: row.latencyP95Ms,
		});
	}
	const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
	return {
		generatedAt: new Date(now).toISOString(),
		timeZone: zone,
		store: store.label,
		days: days.map((d) => d.toISODate()!),
		costByDay: [...costByTag.entries()]
			.map(([tag, costUsd]) => ({ tag, costUsd }))
			.sort((a, b) => sum(b.costUsd) - sum(a.costUsd)),
		recentWindow: 'last 24 hours',
		recent: {
			calls: recent.calls,
			succeeded: recent.succeeded,
			cached: recent.cached,
			simulated: recent.simulated,
			failed: recent.failed,
			failuresByClass: recent.failuresByClass,
			retries: recent.retries,
			fallbacks: recent.fallbacks,
			costUsd: recent.costUsd,
			inputTokens: recent.inputTokens,
			outputTokens: recent.outputTokens,
			cacheHitRate: recent.cacheHitRate,
			latencyP50Ms: recent.latencyP50Ms,
			latencyP95Ms: recent.latencyP95Ms,
		},
		latencyByModel: [...models.values()].filter((m) => m.p50Ms !== null),
		outcomeWindow: 'last 7 days',
		costPerOutcome: byTag
			.filter((r) => r.group.tag)
			.map((r) => {
				const tag = r.group.tag!;
				return {
					tag,
					outcomes: r.outcomes?.[tag] ?? 0,
					costUsd: r.costUsd,
					costPerOutcomeUsd: r.costPerOutcome?.[tag] ?? null,
				};
			}),
		budgets: states.budgets.map((b) => ({
			name: b.name,
			scopeKey: b.scopeKey,
			period: b.period,
			spentUsd: b.spentUsd,
			limitUsd: b.limitUsd || null,
			spentTokens: b.spentTokens,
			limitTokens: b.limitTokens || null,
			percent: b.percent,
			status: b.status,
			resetAt: iso(b.resetAt),
		})),
		breakers: states.breakers.map((b) => ({
			name: b.name,
			state: b.state,
			seenAt: new Date(b.seenAt).toISOString(),
		})),
		queues: states.queues.map((q) => ({
			source: q.value.source,
			queue: q.value.queue,
			status: q.value.status,
			depth: q.value.depth,
			oldestAgeMs: q.value.oldestAgeMs,
			reason: q.value.reason,
			checkedAt: q.value.checkedAt,
		})),
		freshness: states.freshness.map((f) => ({
			source: f.value.source,
			status: f.value.status,
			ageMs: f.value.ageMs,
			reason: f.value.reason,
			checkedAt: f.value.checkedAt,
		})),
	};
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
