/**
 * Read, decide, compare-and-set on one versioned record (StateStore.getRecord / putRecord), for
 * state that many workers change at once: the shared limit's rate, budgets.
 *
 * The callers of one process take turns on a record: they would only lose compare-and-sets to
 * each other, so only other processes contend for it. Those who queue while a write is on its
 * way go together in the next one (one read and one write for all of them), so a busy worker
 * gets more done per round trip instead of less. A lost write steps aside for a jittered while
 * (longer each time) and tries again with a fresh read.
 *
 * Self-contained within lib/stores (no imports from elsewhere), so worker processes that load the
 * transpiled stores can load it too.
 */
import type { StateStore } from './types';

export interface RecordDecision<T> {
	value: T;
	/** Kept this long from now. */
	ttlMs: number;
	/** For countRecords; default 'record'. */
	tag?: string;
	/** For dueRecords; default null (never due). */
	dueAt?: number | null;
}

export interface UpdateOptions {
	/** Attempts before giving up with RecordContention; default 50. */
	tries?: number;
	/** The callers of this process take turns on the record (default true). */
	takeTurns?: boolean;
	/** For the step-aside jitter; Math.random by default. */
	random?: () => number;
	/** Names the record in the error, e.g. `budget "daily"`; default namespace and key. */
	what?: string;
}

/** Every try lost its compare-and-set to another writer: the record is too contended right now. */
export class RecordContention extends Error {
	constructor(
		readonly what: string,
		readonly tries: number,
	) {
		super(`${what}: ${tries} writes in a row lost to other writers at once; try again`);
		this.name = 'RecordContention';
	}
}

const DEFAULT_TRIES = 50;
/** The longest step aside between tries (ms); the first ones are about 1, 2, 4 … ms. */
const MAX_STEP_ASIDE_MS = 50;

/** Callers waiting for their turn on a record, per store object and record. */
interface Waiter {
	decide: (value: unknown) => RecordDecision<unknown> | undefined;
	options: UpdateOptions;
	resolve: (value: unknown) => void;
	reject: (error: unknown) => void;
}
const queues = new WeakMap<StateStore, Map<string, Waiter[]>>();

/** The most callers whose decisions go into one write. */
const MAX_BATCH = 100;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Applies `decide` to the record's live value (undefined: absent or expired) and writes what it
 * returns by compare-and-set, retrying on a lost write with a fresh read. `decide` may run more
 * than once, so it must not have effects beyond what it returns (capture results in variables
 * the last call overwrites). Returns the value written, or undefined when `decide` said not to
 * write. Throws RecordContention after `tries` lost writes, and whatever the store (or decide)
 * throws.
 *
 * Taking turns, the callers that queued up while a write was on its way go together in the next
 * one: each decides in turn on the value the one before it left (first come, first served), and
 * one compare-and-set writes them all. Each gets the value its own decision made.
 */
export async function updateRecord<T>(
	store: StateStore,
	namespace: string,
	key: string,
	decide: (value: T | undefined) => RecordDecision<T> | undefined,
	options: UpdateOptions = {},
): Promise<T | undefined> {
	if (options.takeTurns === false)
		return (await writeTogether(store, namespace, key, [
			{
				decide: decide as Waiter['decide'],
				options,
				resolve: () => undefined,
				reject: () => undefined,
			},
		])[0]) as T | undefined;

	let records = queues.get(store);
	if (!records) queues.set(store, (records = new Map()));
	// JSON of the pair: no namespace/key text can collide with another pair
	const id = JSON.stringify([namespace, key]);
	return await new Promise<T | undefined>((resolve, reject) => {
		const waiter: Waiter = {
			decide: decide as Waiter['decide'],
			options,
			resolve: resolve as Waiter['resolve'],
			reject,
		};
		const queue = records.get(id);
		if (queue) {
			queue.push(waiter);
			return;
		}
		records.set(id, [waiter]);
		void drain(store, namespace, key, records, id);
	});
}

/** Writes the record's queue, a batch at a time, until no one waits. */
async function drain(
	store: StateStore,
	namespace: string,
	key: string,
	records: Map<string, Waiter[]>,
	id: string,
): Promise<void> {
	const queue = records.get(id)!;
	while (queue.length) {
		const batch = queue.splice(0, MAX_BATCH);
		const outcomes = writeTogether(store, namespace, key, batch);
		await Promise.allSettled(outcomes);
	}
	records.delete(id);
}

/** One read, decide, compare-and-set loop for a batch; one promise per waiter, in order. */
function writeTogether(
	store: StateStore,
	namespace: string,
	key: string,
	batch: Waiter[],
): Array<Promise<unknown>> {
	const done = casLoop(store, namespace, key, batch);
	return batch.map(async (waiter, i) => {
		try {
			const outcome = (await done)[i];
			if ('error' in outcome) throw outcome.error;
			waiter.resolve(outcome.value);
			return outcome.value;
		} catch (error) {
			waiter.reject(error);
			throw error;
		}
	});
}

type Outcome = { value: unknown } | { error: unknown };

async function casLoop(
	store: StateStore,
	namespace: string,
	key: string,
	batch: Waiter[],
): Promise<Outcome[]> {
	const { options } = batch[0];
	const tries = Math.max(1, Math.floor(options.tries ?? DEFAULT_TRIES));
	const random = options.random ?? Math.random;
	for (let i = 0; i < tries; i++) {
		const record = await store.getRecord(namespace, key);
		let value = record?.value;
		let write: RecordDecision<unknown> | undefined;
		let ttlMs = 0;
		const outcomes: Outcome[] = batch.map((waiter) => {
			try {
				const next = waiter.decide(value);
				if (!next) return { value: undefined };
				value = next.value;
				ttlMs = Math.max(ttlMs, next.ttlMs);
				write = next;
				return { value: next.value };
			} catch (error) {
				return { error };
			}
		});
		if (!write) return outcomes;
		const last: RecordDecision<unknown> = write;
		const written = await store.putRecord(
			namespace,
			key,
			{ value, ttlMs, tag: last.tag || 'record', dueAt: last.dueAt ?? null },
			record?.version ?? 0,
		);
		if (written) return outcomes;
		if (i < tries - 1) await pause(random() * Math.min(MAX_STEP_ASIDE_MS, 2 ** i));
	}
	throw new RecordContention(
		options.what ??
			`record ${JSON.stringify(key).slice(0, 80)} in ${JSON.stringify(namespace).slice(0, 80)}`,
		tries,
	);
}
