/**
 * The response cache and the last good answers: one layout in the state store, written by the AI
 * Call and read by the AI Call (fresh entries) and the Fallback Router (fresh, else last good).
 *
 *   `<namespace>`            fresh answers, kept for the cache TTL
 *   `<namespace>:last-good`  every success, kept for the last good retention
 *
 * Key: the user's key (Key Expression mode), else a hash of provider, Base URL and request. An
 * entry is the item's answer as the AI Call output it, plus `storedAt` (epoch ms).
 */
import { hashValue } from '../hash';
import type { StateStore } from '../stores/types';
import type { AiPolicy, CallContext } from './policy';
import type { AiRequest } from './wire';

export interface CacheRef {
	namespace: string;
	key: string;
}

/** An entry as read: the stored answer (with its storedAt) and whether it is a last good one. */
export interface CachedEntry {
	value: Record<string, unknown>;
	/** A last good answer rather than a fresh cache entry. */
	stale: boolean;
	storedAt?: number;
}

export const lastGoodNamespace = (namespace: string): string => `${namespace}:last-good`;

/** The entry's key: the user's own, or the hash of what makes the answer (the request at its endpoint). */
export function cacheKey(
	userKey: string | undefined,
	call: { provider: string; baseUrl: string; request: AiRequest },
): string {
	return (
		userKey ?? hashValue({ provider: call.provider, baseUrl: call.baseUrl, request: call.request })
	);
}

/** A JSON object, or nothing: whatever else another writer left under the key counts as absent. */
function asEntry(value: unknown, stale: boolean): CachedEntry | undefined {
	if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
	const record = value as Record<string, unknown>;
	const storedAt = Number(record.storedAt);
	// a time a Date can hold (±8.64e15 ms), or none
	const valid = Number.isFinite(storedAt) && Math.abs(storedAt) <= 8.64e15;
	return { value: record, stale, storedAt: valid ? storedAt : undefined };
}

export async function readFresh(
	store: StateStore,
	ref: CacheRef,
): Promise<CachedEntry | undefined> {
	return asEntry(await store.get(ref.namespace, ref.key), false);
}

export async function readLastGood(
	store: StateStore,
	ref: CacheRef,
): Promise<CachedEntry | undefined> {
	return asEntry(await store.get(lastGoodNamespace(ref.namespace), ref.key), true);
}

/** The fresh entry, else the last good one (the Fallback Router's Cached strategy). */
export async function readCached(
	store: StateStore,
	ref: CacheRef,
): Promise<CachedEntry | undefined> {
	return (await readFresh(store, ref)) ?? (await readLastGood(store, ref));
}

export async function writeFresh(
	store: StateStore,
	ref: CacheRef,
	answer: Record<string, unknown>,
	storedAt: number,
	ttlMs: number,
): Promise<void> {
	await store.set(ref.namespace, ref.key, { ...answer, storedAt }, ttlMs);
}

export async function writeLastGood(
	store: StateStore,
	ref: CacheRef,
	answer: Record<string, unknown>,
	storedAt: number,
	retentionMs: number,
): Promise<void> {
	await store.set(lastGoodNamespace(ref.namespace), ref.key, { ...answer, storedAt }, retentionMs);
}

/** One item's cache settings. */
export interface ItemCache {
	namespace: string;
	/** The user's key; otherwise the request's hash. */
	key?: string;
	/** The fresh cache's TTL; undefined: the response cache is off. */
	ttlMs?: number;
	/** Call even when a fresh entry exists (and overwrite it). */
	forceRefresh?: boolean;
	/** The last good answers' retention; undefined: none are kept. */
	lastGoodMs?: number;
}

/**
 * The cache as two policies (a failed write of one does not skip the other): "cache" answers from
 * fresh entries and writes them, "last good answer" writes every success. On a failed item both
 * name the entry (`error.cache`), for the Fallback Router.
 */
export function cachePolicies(options: {
	store: StateStore;
	/** The item's settings, by call.item; undefined: no cache for the item. */
	entryFor: (call: CallContext) => ItemCache | undefined;
}): AiPolicy[] {
	const { store } = options;
	// the key of a 10 MB prompt is hashed once per item, not once per hook
	const refs = new WeakMap<CallContext, (CacheRef & ItemCache) | undefined>();
	const refOf = (call: CallContext) => {
		if (!refs.has(call)) {
			const item = options.entryFor(call);
			const [first] = call.targets;
			refs.set(
				call,
				item && {
					...item,
					key: cacheKey(item.key, {
						provider: first.provider,
						baseUrl: first.baseUrl,
						request: call.request,
					}),
				},
			);
		}
		return refs.get(call);
	};
	const named = (call: CallContext): { cache: CacheRef } | undefined => {
		const ref = refOf(call);
		return ref && { cache: { namespace: ref.namespace, key: ref.key } };
	};
	return [
		{
			name: 'cache',
			async answer(call) {
				const ref = refOf(call);
				if (!ref || ref.ttlMs === undefined || ref.forceRefresh) return undefined;
				const hit = await readFresh(store, ref);
				if (!hit) return null;
				const answer: Record<string, unknown> = { ...hit.value };
				delete answer.storedAt;
				return {
					...answer,
					cachedAt: hit.storedAt === undefined ? null : new Date(hit.storedAt).toISOString(),
				};
			},
			async done(call, result, answer) {
				const ref = refOf(call);
				if (!ref) return;
				if (result.outcome === 'failed' || result.outcome === 'simulated') return named(call);
				if (result.outcome === 'success' && answer && ref.ttlMs !== undefined)
					await writeFresh(store, ref, answer, result.at, ref.ttlMs);
				return undefined;
			},
		},
		{
			name: 'last good answer',
			async done(call, result, answer) {
				const ref = refOf(call);
				if (!ref) return;
				if (result.outcome === 'failed' || result.outcome === 'simulated') return named(call);
				if (result.outcome === 'success' && answer && ref.lastGoodMs !== undefined)
					await writeLastGood(store, ref, answer, result.at, ref.lastGoodMs);
				return undefined;
			},
		},
	];
}
