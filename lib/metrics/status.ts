/**
 * The last known state of the things the metrics and the dashboard show beside the ledger's
 * counters: circuit breakers and budgets (announced by the AI Calls that use them; their state is
 * read live from the store at scrape time), queues (the last Queue Depth Check of each) and data
 * sources (the last Freshness Check that published). One record per family in the state store, so
 * every worker's checks show on the one endpoint the main instance serves.
 *
 * Bounded: a family keeps its MAX_ENTRIES most recently seen entries, and forgets one not seen for
 * KEEP_MS, so the metrics' label sets stay bounded whatever the items say (a budget per customer).
 */
import { beforeStoresClose } from '../stores/index';
import { updateRecord } from '../stores/update';
import type { StateStore } from '../stores/types';

export type StatusFamily = 'breaker' | 'budget' | 'queue' | 'freshness';

export const STATUS_NS = 'metrics:status';
export const MAX_ENTRIES = 200;
export const KEEP_MS = 30 * 86_400_000;
/** An announced entry is written again after this long, so its "seen" time stays recent. */
export const ANNOUNCE_EVERY_MS = 10 * 60_000;

export interface StatusEntry<T = unknown> {
	id: string;
	value: T;
	/** Epoch ms when it was last published. */
	at: number;
}

type Family<T> = Record<string, { value: T; at: number }>;

/** Writes (or refreshes) entries of a family in one compare-and-set. */
export async function publishStatus<T>(
	store: StateStore,
	family: StatusFamily,
	entries: Array<{ id: string; value: T }>,
	now = Date.now(),
): Promise<void> {
	if (!entries.length) return;
	await updateRecord<Family<T>>(
		store,
		STATUS_NS,
		family,
		(current) => {
			const next: Family<T> = {};
			for (const [id, e] of Object.entries(current ?? {}))
				if (e && typeof e.at === 'number' && now - e.at < KEEP_MS) next[id] = e;
			for (const { id, value } of entries) next[id] = { value, at: now };
			const ids = Object.keys(next);
			if (ids.length > MAX_ENTRIES)
				for (const id of ids
					.sort((a, b) => next[a].at - next[b].at)
					.slice(0, ids.length - MAX_ENTRIES))
					delete next[id];
			return { value: next, ttlMs: KEEP_MS };
		},
		{ what: `the ${family} status for metrics` },
	);
}

/** A family's entries, most recently published first. */
export async function readStatus<T>(
	store: StateStore,
	family: StatusFamily,
	now = Date.now(),
): Promise<Array<StatusEntry<T>>> {
	const record = await store.getRecord<Family<T>>(STATUS_NS, family);
	const entries: Array<StatusEntry<T>> = [];
	for (const [id, e] of Object.entries(record?.value ?? {}))
		if (e && typeof e.at === 'number' && now - e.at < KEEP_MS)
			entries.push({ id, value: e.value, at: e.at });
	return entries.sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
}

/** When this process last announced each entry, per store. */
const announced = new WeakMap<StateStore, Map<string, number>>();

/**
 * Says "this breaker / budget exists" at most once per ANNOUNCE_EVERY_MS per process, in the
 * background: a call never waits for it, and a failing store only costs the announcement (`warn`).
 */
export function announce<T>(
	store: StateStore,
	family: StatusFamily,
	id: string,
	value: T,
	warn: (message: string) => void = () => undefined,
	now = Date.now(),
): void {
	let seen = announced.get(store);
	if (!seen) announced.set(store, (seen = new Map()));
	// with the value: a changed budget limit is announced at once
	const key = `${family}\u0000${id}\u0000${JSON.stringify(value)}`;
	const last = seen.get(key);
	if (last !== undefined && now - last < ANNOUNCE_EVERY_MS) return;
	seen.set(key, now);
	if (seen.size > 10 * MAX_ENTRIES) seen.clear();
	const write = publishStatus(store, family, [{ id, value }], now)
		.catch((error: unknown) => {
			seen.delete(key);
			warn(
				`AI Patterns: the ${family} "${id.slice(0, 80)}" could not be announced for the metrics (${(error as Error).message})`,
			);
		})
		.finally(() => pending.delete(write));
	pending.add(write);
}

const pending = new Set<Promise<void>>();
// closing the stores (tests, a CLI) first lets the announcements land
beforeStoresClose(async () => {
	await Promise.allSettled([...pending]);
});

/** A queue's last reading as the metrics and the dashboard show it. */
export interface QueueStatusEntry {
	source: string;
	queue: string;
	status: 'normal' | 'warn' | 'critical' | 'unknown';
	depth: number | null;
	inProgress: number | null;
	consumers: number | null;
	oldestAgeMs: number | null;
	reason: string;
	checkedAt: string;
}

/** A source's last Freshness Check (with Publish Status on): the worst item of that execution. */
export interface FreshnessStatusEntry {
	source: string;
	status: 'fresh' | 'warn' | 'stale';
	ageMs: number | null;
	reason: string;
	checkedAt: string;
	items: { fresh: number; warn: number; stale: number };
}
