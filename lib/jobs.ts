/**
 * A durable job queue over the state store's versioned records: at-least-once work, an
 * exactly-once recorded outcome. Every job carries its state, attempt count and a lease; whoever
 * changes a job does so by compare-and-set on its version, so of two sweepers (or a sweeper and
 * a late original) exactly one wins each step. A job whose lease runs out is due: the sweep
 * (`claimDue`) runs it again, hands its outcome out again, or gives it to a person.
 *
 *   submit ──► running ──complete──► done | failed | rejected_stale | human ──acknowledge──► delivered
 *                 ▲  └─retryLater─► queued ─┐          (delivery pending: due again until acknowledged)
 *                 └───── claimDue ◄─────────┘  (lease over; after maxAttempts ► human)
 *
 * Framework-free: the Job Queue node is its shell.
 */
import { toJson } from './stores/common';
import type { StateStore, StoredRecord } from './stores/types';

export type Outcome = 'done' | 'failed' | 'rejected_stale' | 'human';
export type JobStatus = 'queued' | 'running' | Outcome;
export const OUTCOMES: readonly Outcome[] = ['done', 'failed', 'rejected_stale', 'human'];
const FINAL = new Set<JobStatus>(OUTCOMES);

export interface Job {
	id: string;
	status: JobStatus;
	/** Runs started so far (1 once the first run claimed it). */
	attempt: number;
	maxAttempts: number;
	leaseMs: number;
	retentionMs: number;
	/**
	 * Until when the current run or delivery owns the job (epoch ms); for a queued job, when it is
	 * due. Null when nothing is owed any more.
	 */
	leaseUntil: number | null;
	data: unknown;
	result?: unknown;
	error?: unknown;
	/** The attempt whose outcome was recorded: with the id, the stable key of its delivery. */
	finishedAttempt?: number;
	/** pending: the outcome still has to be delivered and acknowledged. */
	delivery: 'none' | 'pending' | 'delivered' | 'abandoned';
	/** Times the outcome was handed out for delivery. */
	deliveries: number;
	createdAt: number;
	updatedAt: number;
	finishedAt?: number;
}

export interface SubmitOptions {
	data: unknown;
	leaseMs: number;
	maxAttempts: number;
	retentionMs: number;
	/** Claim it for the submitting execution (attempt 1), or leave it queued for the next sweep. */
	startNow: boolean;
}

/** A sweep's result for one job: run it, deliver its outcome again, or tell a person. */
export interface Due {
	action: 'run' | 'deliver' | 'person';
	job: Job;
	/** For `person`: why. */
	reason?: string;
}

export type Change = { changed: true; job: Job } | { changed: false; job?: Job; reason: string };

/** Largest job data kept (JSON): a job row is a work order, not a file store. */
export const MAX_DATA_BYTES = 1_000_000;
/** A lost compare-and-set is retried this often before the step reports the race. */
const CAS_TRIES = 5;

/** Why an item value cannot be a job id (undefined: it can). */
export function jobIdIssue(value: unknown): string | undefined {
	if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value)))
		return `must be text or a number, got ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`;
	const text = String(value);
	if (text === '') return 'is empty';
	if (text.length > 200) return `is ${text.length} characters long (at most 200)`;
	// control characters and lone surrogates break keys in some stores and in URLs
	// eslint-disable-next-line no-control-regex -- finding control characters is the point
	if (/[\u0000-\u001f\u007f]/.test(text)) return 'contains control characters';
	if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text))
		return 'contains a lone surrogate (not valid Unicode)';
	return undefined;
}

/** Why a value cannot be kept as job data or an outcome (undefined: it can). */
export function storableIssue(value: unknown): string | undefined {
	let text: string | null;
	try {
		text = toJson(value);
	} catch (error) {
		return (error as Error).message;
	}
	const bytes = text === null ? 0 : Buffer.byteLength(text);
	return bytes > MAX_DATA_BYTES
		? `is ${bytes} bytes as JSON (at most ${MAX_DATA_BYTES})`
		: undefined;
}

export const deliveryKey = (job: Job): string => `${job.id}:${job.finishedAttempt ?? job.attempt}`;

const isFinal = (job: Job) => FINAL.has(job.status);

/** When a sweep must look at the job again: its lease end while work or a delivery is owed. */
const dueAt = (job: Job): number | null =>
	!isFinal(job) || job.delivery === 'pending' ? job.leaseUntil : null;

export class JobQueue {
	constructor(
		private readonly store: StateStore,
		/** The store namespace: one per queue name. */
		private readonly namespace: string,
		private readonly now: () => number = Date.now,
	) {}

	async get(id: string): Promise<Job | undefined> {
		return (await this.store.getRecord<Job>(this.namespace, id))?.value;
	}

	/** Job counts by status (live rows only). */
	async count(): Promise<Record<string, number>> {
		return await this.store.countRecords(this.namespace);
	}

	/** Creates the job, or returns the one that already has this id (created: false). */
	async submit(id: string, options: SubmitOptions): Promise<{ created: boolean; job: Job }> {
		const now = this.now();
		const job: Job = {
			id,
			status: options.startNow ? 'running' : 'queued',
			attempt: options.startNow ? 1 : 0,
			maxAttempts: options.maxAttempts,
			leaseMs: options.leaseMs,
			retentionMs: options.retentionMs,
			leaseUntil: options.startNow ? now + options.leaseMs : now,
			data: options.data,
			delivery: 'none',
			deliveries: 0,
			createdAt: now,
			updatedAt: now,
		};
		for (let i = 0; i < CAS_TRIES; i++) {
			const existing = await this.store.getRecord<Job>(this.namespace, id);
			if (existing) return { created: false, job: existing.value };
			if (await this.write(job, 0)) return { created: true, job };
		}
		throw new Error(`job ${id}: the store kept changing while it was submitted`);
	}

	/**
	 * Claims up to `limit` due jobs: each one atomically, so a job another sweeper took meanwhile
	 * is skipped. Jobs that used all their attempts go to a person instead of running again.
	 */
	async claimDue(limit: number): Promise<Due[]> {
		const due = await this.store.dueRecords<Job>(this.namespace, limit);
		const claimed: Due[] = [];
		for (const record of due) {
			const next = this.sweep(record.value);
			if (!next) continue;
			if (await this.write(next.job, record.version)) claimed.push(next);
		}
		return claimed;
	}

	/** Records the job's outcome, once: the first run to finish wins, a later one is told so. */
	async complete(
		id: string,
		outcome: { status: Outcome; result?: unknown; error?: unknown; deliver: boolean },
	): Promise<Change> {
		return await this.change(id, (job, now) => {
			if (isFinal(job))
				return `the job was already ${job.status} (attempt ${job.finishedAttempt ?? job.attempt})`;
			return {
				...job,
				status: outcome.status,
				result: outcome.result,
				error: outcome.error,
				finishedAttempt: job.attempt,
				finishedAt: now,
				delivery: outcome.deliver ? 'pending' : 'none',
				deliveries: outcome.deliver ? 1 : 0,
				leaseUntil: outcome.deliver ? now + job.leaseMs : null,
			};
		});
	}

	/**
	 * Puts the job back for a later sweep. The attempt counts, unless `countAttempt` is false (the
	 * run was turned away before it did anything, e.g. by a shared limit). With no attempt left it
	 * is due at once, and the sweep gives it to a person.
	 */
	async retryLater(
		id: string,
		delayMs: number,
		error?: unknown,
		countAttempt = true,
	): Promise<Change> {
		return await this.change(id, (job, now) => {
			if (isFinal(job)) return `the job was already ${job.status}`;
			const attempt = countAttempt ? job.attempt : Math.max(0, job.attempt - 1);
			const last = attempt >= job.maxAttempts;
			return { ...job, status: 'queued', attempt, error, leaseUntil: last ? now : now + delayMs };
		});
	}

	/** The outcome was delivered: nothing is owed any more. */
	async acknowledge(id: string): Promise<Change> {
		return await this.change(id, (job) => {
			if (job.delivery === 'pending') return { ...job, delivery: 'delivered', leaseUntil: null };
			if (!isFinal(job)) return `the job is ${job.status}: it has no outcome to acknowledge yet`;
			return job.delivery === 'delivered'
				? 'the outcome was acknowledged before'
				: 'the outcome was not waiting for delivery';
		});
	}

	/** What a sweep does with a due job; undefined when nothing (it was changed meanwhile). */
	private sweep(job: Job): Due | undefined {
		const now = this.now();
		const lease = now + job.leaseMs;
		if (!isFinal(job)) {
			if (job.attempt < job.maxAttempts)
				return {
					action: 'run',
					job: { ...job, status: 'running', attempt: job.attempt + 1, leaseUntil: lease },
				};
			const reason = `gave up after ${job.attempt} attempt${job.attempt === 1 ? '' : 's'}: ${
				job.error === undefined
					? 'the last one ended without an outcome (n8n or a worker stopped, or it ran longer than the lease)'
					: 'the last one failed'
			}`;
			return {
				action: 'person',
				reason,
				job: {
					...job,
					status: 'human',
					error: job.error ?? reason,
					finishedAttempt: job.attempt,
					finishedAt: now,
					delivery: 'pending',
					deliveries: 1,
					leaseUntil: lease,
				},
			};
		}
		if (job.delivery !== 'pending') return undefined;
		if (job.deliveries < job.maxAttempts)
			return {
				action: 'deliver',
				job: { ...job, deliveries: job.deliveries + 1, leaseUntil: lease },
			};
		return {
			action: 'person',
			reason: `the outcome was handed out for delivery ${job.deliveries} time${job.deliveries === 1 ? '' : 's'} and never acknowledged`,
			job: { ...job, delivery: 'abandoned', leaseUntil: null },
		};
	}

	/** Read, decide, compare-and-set; retried when another writer got in between. */
	private async change(
		id: string,
		decide: (job: Job, now: number) => Job | string,
	): Promise<Change> {
		for (let i = 0; i < CAS_TRIES; i++) {
			const record: StoredRecord<Job> | undefined = await this.store.getRecord<Job>(
				this.namespace,
				id,
			);
			if (!record) return { changed: false, reason: 'no job with this id (or it was purged)' };
			const next = decide(record.value, this.now());
			if (typeof next === 'string') return { changed: false, job: record.value, reason: next };
			if (await this.write(next, record.version)) return { changed: true, job: next };
		}
		return { changed: false, reason: 'other executions kept changing the job; try again' };
	}

	private async write(job: Job, expectedVersion: number): Promise<boolean> {
		job.updatedAt = this.now();
		const version = await this.store.putRecord(
			this.namespace,
			job.id,
			{ value: job, dueAt: dueAt(job), tag: job.status, ttlMs: job.retentionMs },
			expectedVersion,
		);
		return version > 0;
	}
}
