/**
 * The package's Job Queue (lib/jobs.ts) in a state store: counts by status (countRecords) and the
 * earliest due job (dueRecords). Depth = queued jobs (waiting for a sweep, also those whose retry
 * delay still runs); in progress = running. The oldest age is how long the earliest due job has
 * been due without a sweep claiming it (a queued job whose delay ran out, a run whose lease ran
 * out, an outcome still to deliver): with a sweeper every minute it stays under a minute or two,
 * so a growing age means the sweeper stopped.
 */
import type { Job } from '../jobs';
import type { StateStore } from '../stores/types';
import { SourceError, errorText, type QueueReading } from './types';

/** The namespace the Job Queue node keeps a queue's jobs in (nodes/JobQueue: `jobs:<name>`). */
export const jobQueueNamespace = (queue: string) => `jobs:${queue}`;

export async function readJobQueue(
	store: StateStore,
	queue: string,
	nowMs: number,
): Promise<QueueReading> {
	const namespace = jobQueueNamespace(queue);
	let counts: Record<string, number>;
	let due: Array<{ key: string; dueAt: number | null; value: Job }>;
	try {
		counts = await store.countRecords(namespace);
		due = await store.dueRecords<Job>(namespace, 1);
	} catch (error) {
		throw new SourceError(
			'source_unreachable',
			`Job Queue store (${store.label}): ${errorText(error)}`,
		);
	}
	const first = due[0];
	const job = first?.value;
	const notes: string[] = [];
	if (!Object.keys(counts).length)
		notes.push(
			`no jobs in queue ${JSON.stringify(queue)} in ${store.label}: right if it is new or idle; else check the Store and Queue Name of the Job Queue nodes`,
		);
	return {
		depth: counts.queued ?? 0,
		inProgress: counts.running ?? 0,
		consumers: null,
		delayed: null,
		oldestAgeMs: first && typeof first.dueAt === 'number' ? Math.max(0, nowMs - first.dueAt) : null,
		notes,
		details: {
			via: 'jobQueue',
			store: store.kind,
			counts,
			oldestDueJob: job
				? {
						id: first.key,
						status: job.status,
						dueSince: typeof first.dueAt === 'number' ? new Date(first.dueAt).toISOString() : null,
						submittedAt:
							typeof job.createdAt === 'number' ? new Date(job.createdAt).toISOString() : null,
					}
				: null,
		},
	};
}
